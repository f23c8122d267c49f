//! Mutant schemata: rewrites a copy of `threads-reference` so that every mutant cargo-mutants
//! lists for it is compiled into one build, each behind `__mutants::on(ID)`, a switch read from
//! the environment at run time (`THREADS_MUTANT=ID`). One build then serves every mutant, where
//! cargo-mutants rebuilds and relinks the crate and its forty test binaries for each one.
//!
//! The mutants are cargo-mutants' own (`cargo mutants --list --json`), matched to the syntax tree
//! by their source positions, so the set and the names are the same as a cargo-mutants run. A
//! mutant whose schema cannot be compiled is reported back by the driver (`schemata.py`) and left
//! out with `--skip`; a mutant in a constant context or a let chain, where a run-time switch cannot
//! go, is reported as not applied.
//!
//! With `THREADS_MUTANTS_TRACE=DIR` every process appends to `DIR/<pid>` the id of each switch it
//! reaches, once: the driver learns which tests reach which mutant and runs only those.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use clap::Parser;
use proc_macro2::Span;
use quote::ToTokens;
use serde::{Deserialize, Serialize};
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{Arm, BinOp, Block, Expr, ExprStruct, ExprUnary, ItemFn, Stmt, parse_quote};

#[derive(Parser)]
#[command(about = "Compile every cargo-mutants mutant of the reference into one switched build")]
struct Cli {
    /// Root of the copy to rewrite in place (its reference/src is read and rewritten).
    #[arg(long)]
    root: PathBuf,
    /// `cargo mutants --list --json -p threads-reference` of the same tree.
    #[arg(long)]
    mutants: PathBuf,
    /// Where to write the manifest: each mutant's id, name, file and whether it was applied.
    #[arg(long)]
    manifest: PathBuf,
    /// Ids of mutants to leave out (their schema did not compile), comma-separated.
    #[arg(long, value_delimiter = ',')]
    skip: Vec<usize>,
    /// Files (as cargo-mutants names them) whose mutants are left out.
    #[arg(long)]
    exclude_file: Vec<String>,
}

#[derive(Deserialize)]
struct Position {
    line: usize,
    column: usize,
}

#[derive(Deserialize)]
struct SourceSpan {
    start: Position,
    end: Position,
}

#[derive(Deserialize)]
struct FunctionSpan {
    span: SourceSpan,
}

#[derive(Deserialize)]
struct Listed {
    name: String,
    file: String,
    genre: String,
    replacement: String,
    span: SourceSpan,
    function: Option<FunctionSpan>,
}

/// One entry of the manifest the driver reads.
#[derive(Serialize)]
struct Entry {
    id: usize,
    name: String,
    file: String,
    genre: String,
    /// `applied`, `skipped` (asked by the driver), `excluded` (file), or why it could not be.
    status: String,
    /// Switched at the root of its chain of binary expressions, where the text cargo-mutants
    /// writes groups the chain otherwise than the tree did.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    regrouped: bool,
}

/// A position as cargo-mutants gives it: line and column, both from 1.
type Key = (usize, usize);

fn start_key(span: Span) -> Key {
    let p = span.start();
    (p.line, p.column + 1)
}

fn end_key(span: Span) -> Key {
    let p = span.end();
    (p.line, p.column + 1)
}

/// The mutants of one file, by the position each genre is matched at.
#[derive(Default)]
struct FileMutants {
    /// By the end of the function (its closing brace): (id, replacement).
    fn_value: BTreeMap<Key, Vec<(usize, String)>>,
    /// By the operator's start: (id, replacement operator).
    binary: BTreeMap<Key, Vec<(usize, String)>>,
    unary: BTreeMap<Key, Vec<usize>>,
    /// By the start of the arm.
    arm: BTreeMap<Key, Vec<usize>>,
    /// By the start of the guard's expression: (id, replacement).
    guard: BTreeMap<Key, Vec<(usize, String)>>,
    /// By the start of the field.
    field: BTreeMap<Key, Vec<usize>>,
}

struct Rewriter<'a> {
    mutants: &'a FileMutants,
    /// `crate` in the library, `threads` in a binary of the package.
    krate: syn::Path,
    /// Above zero inside a constant context, where no run-time switch can go.
    constant: usize,
    /// Set when the expression visited next is an operand of a binary expression.
    in_chain: bool,
    status: BTreeMap<usize, String>,
    /// The operator mutants switched at the root of their chain, since replacing the operator
    /// in the text regroups the chain (`a && b && c` with the first `&&` made `||` reads
    /// `a || (b && c)`, not `(a || b) && c`).
    regrouped: BTreeSet<usize>,
}

impl Rewriter<'_> {
    fn switch(&self, id: usize) -> Expr {
        let krate = &self.krate;
        let id = id as u32;
        parse_quote!(#krate::__mutants::on(#id))
    }

    /// Records `ids` as applied, or as not applicable for `reason`; true when applied.
    fn settle(&mut self, ids: impl IntoIterator<Item = usize>, reason: Option<&str>) -> bool {
        let reason = match (reason, self.constant > 0) {
            (Some(r), _) => r,
            (None, true) => "constant context",
            (None, false) => "applied",
        };
        for id in ids {
            self.status.insert(id, reason.to_string());
        }
        reason == "applied"
    }

    fn fn_body(&mut self, sig: &syn::Signature, block: &mut Block) {
        let constness = sig.constness.is_some();
        let mutants = self.mutants;
        let Some(list) = mutants
            .fn_value
            .get(&end_key(block.brace_token.span.close()))
        else {
            return;
        };
        // A function returning `impl Trait` has one concrete return type: the replacement's
        // and the body's cannot both be returned.
        let opaque = matches!(&sig.output, syn::ReturnType::Type(_, ty) if quote::quote!(#ty).to_string().contains("impl "));
        let reason = if constness {
            Some("const fn")
        } else if opaque {
            Some("returns impl Trait")
        } else {
            None
        };
        if !self.settle(list.iter().map(|(id, _)| *id), reason) {
            return;
        }
        let mut guards: Vec<Stmt> = Vec::new();
        for (id, replacement) in list {
            match syn::parse_str::<Expr>(replacement) {
                Ok(value) => {
                    let on = self.switch(*id);
                    guards.push(parse_quote!(if #on { return #value; }));
                }
                Err(_) => {
                    self.status.insert(*id, "replacement does not parse".into());
                }
            }
        }
        guards.append(&mut block.stmts);
        block.stmts = guards;
    }

    fn binary(&mut self, expr: &mut Expr) {
        let mutants = self.mutants;
        let Expr::Binary(b) = &*expr else { return };
        let Some(list) = mutants.binary.get(&start_key(b.op.span())) else {
            return;
        };
        let list: Vec<_> = list
            .iter()
            .filter(|(id, _)| !self.regrouped.contains(id))
            .cloned()
            .collect();
        let reason = (matches!(b.op, BinOp::And(_)) && in_let_chain(expr)).then_some("let chain");
        if !self.settle(list.iter().map(|(id, _)| *id), reason) {
            return;
        }
        let b = b.clone();
        let mut variants = Vec::new();
        for (id, op) in &list {
            let Ok(op) = syn::parse_str::<BinOp>(op) else {
                self.unparsed(*id);
                continue;
            };
            let (left, right) = (&b.left, &b.right);
            variants.push((*id, parse_quote!((#left) #op (#right))));
        }
        *expr = self.chain(variants, Expr::Binary(b));
    }

    /// The operator mutants of the chain rooted at `expr` whose text, the operator replaced,
    /// parses to another grouping than the operator replaced in the tree: each with the chain as
    /// cargo-mutants' text reads (unswitched operands: one switch is on at a time). Called
    /// before the chain's operands are rewritten; those mutants are settled here and switched
    /// at the root by [`Rewriter::wrap_regrouped`].
    fn regroup(&mut self, expr: &Expr) -> Vec<(usize, Expr)> {
        let (mut leaves, mut ops) = (Vec::new(), Vec::new());
        flatten(expr, &mut leaves, &mut ops);
        if ops.len() < 2 || leaves.iter().any(|l| matches!(l, Expr::Let(_))) {
            return Vec::new();
        }
        let mutants = self.mutants;
        let mut variants = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            for (id, replacement) in mutants
                .binary
                .get(&start_key(op.span()))
                .into_iter()
                .flatten()
            {
                let Ok(new) = syn::parse_str::<BinOp>(replacement) else {
                    continue;
                };
                let mut swapped = ops.clone();
                swapped[i] = new;
                let Ok(parsed) = syn::parse2::<Expr>(joined(&leaves, &swapped)) else {
                    continue;
                };
                if grouping(&parsed, None) != grouping(expr, Some((i, &swapped[i])))
                    && self.settle([*id], None)
                {
                    self.regrouped.insert(*id);
                    variants.push((*id, parsed));
                }
            }
        }
        variants
    }

    fn unary(&mut self, expr: &mut Expr) {
        let mutants = self.mutants;
        let Expr::Unary(ExprUnary {
            op, expr: inner, ..
        }) = &*expr
        else {
            return;
        };
        let Some(list) = mutants.unary.get(&start_key(op.span())) else {
            return;
        };
        if !self.settle(list.iter().copied(), None) {
            return;
        }
        let variants = list.iter().map(|id| (*id, (**inner).clone())).collect();
        *expr = self.chain(variants, expr.clone());
    }

    /// `guard_at` and `start`: where the guard and the arm began before their insides were
    /// rewritten (a rewritten expression has no position).
    fn arm(&mut self, arm: &mut Arm, guard_at: Option<Key>, start: Key) {
        if let (Some((_, guard)), Some(at)) = (&mut arm.guard, guard_at) {
            self.guard(guard, at);
        }
        let Some(list) = self.mutants.arm.get(&start) else {
            return;
        };
        if !self.settle(list.iter().copied(), None) {
            return;
        }
        // A deleted arm is one that never matches: its patterns fall through to the wildcard
        // arm cargo-mutants requires before it deletes one.
        let mut keep: Expr = match &arm.guard {
            Some((_, g)) => parse_quote!((#g)),
            None => parse_quote!(true),
        };
        for id in list {
            let on = self.switch(*id);
            keep = parse_quote!(!#on && #keep);
        }
        let if_token: syn::Token![if] = Default::default();
        arm.guard = Some((if_token, Box::new(keep)));
    }

    fn guard(&mut self, guard: &mut Expr, at: Key) {
        let Some(list) = self.mutants.guard.get(&at) else {
            return;
        };
        if !self.settle(list.iter().map(|(id, _)| *id), None) {
            return;
        }
        let mut variants = Vec::new();
        for (id, replacement) in list {
            match syn::parse_str::<Expr>(replacement) {
                Ok(value) => variants.push((*id, value)),
                Err(_) => self.unparsed(*id),
            }
        }
        *guard = self.chain(variants, guard.clone());
    }

    fn unparsed(&mut self, id: usize) {
        self.status.insert(id, "replacement does not parse".into());
    }

    /// `(if on(a) { A } else if on(b) { B } else { original })`.
    fn chain(&self, variants: Vec<(usize, Expr)>, original: Expr) -> Expr {
        let mut result = original;
        for (id, variant) in variants.into_iter().rev() {
            let on = self.switch(id);
            result = parse_quote!(if #on { #variant } else { #result });
        }
        parse_quote!((#result))
    }

    fn fields(&mut self, s: &mut ExprStruct) {
        let mutants = self.mutants;
        let Some(base) = s.rest.clone() else { return };
        for field in &mut s.fields {
            let Some(list) = mutants.field.get(&start_key(field.span())) else {
                continue;
            };
            if !self.settle(list.iter().copied(), None) {
                continue;
            }
            // The field deleted takes the base's value, which is what `..base` would give it.
            let member = &field.member;
            let deleted: Expr = parse_quote!((#base).#member);
            let variants = list.iter().map(|id| (*id, deleted.clone())).collect();
            field.expr = self.chain(variants, field.expr.clone());
            field.colon_token.get_or_insert_with(Default::default);
        }
    }
}

/// The operands and operators of a chain of binary expressions (joined without parentheses),
/// in source order.
fn flatten(expr: &Expr, leaves: &mut Vec<Expr>, ops: &mut Vec<BinOp>) {
    match expr {
        Expr::Binary(b) if b.attrs.is_empty() => {
            flatten(&b.left, leaves, ops);
            ops.push(b.op);
            flatten(&b.right, leaves, ops);
        }
        _ => leaves.push(expr.clone()),
    }
}

/// The chain's text: operands and operators in turn.
fn joined(leaves: &[Expr], ops: &[BinOp]) -> proc_macro2::TokenStream {
    let mut tokens = proc_macro2::TokenStream::new();
    for (i, leaf) in leaves.iter().enumerate() {
        if i > 0 {
            ops[i - 1].to_tokens(&mut tokens);
        }
        leaf.to_tokens(&mut tokens);
    }
    tokens
}

/// The grouping of a chain: every binary expression in brackets, operands as `_`; with `swap`,
/// its operator at that index (in source order) printed as the one given instead.
fn grouping(expr: &Expr, swap: Option<(usize, &BinOp)>) -> String {
    fn walk(expr: &Expr, swap: Option<(usize, &BinOp)>, at: &mut usize, out: &mut String) {
        match expr {
            Expr::Binary(b) if b.attrs.is_empty() => {
                out.push('(');
                walk(&b.left, swap, at, out);
                let op = match swap {
                    Some((i, new)) if i == *at => new,
                    _ => &b.op,
                };
                out.push_str(&op.to_token_stream().to_string());
                *at += 1;
                walk(&b.right, swap, at, out);
                out.push(')');
            }
            _ => out.push('_'),
        }
    }
    let mut out = String::new();
    walk(expr, swap, &mut 0, &mut out);
    out
}

/// A `&&` whose operands hold a `let`: a let chain, which a switch around it would break.
fn in_let_chain(expr: &Expr) -> bool {
    match expr {
        Expr::Let(_) => true,
        Expr::Binary(b) if matches!(b.op, BinOp::And(_)) => {
            in_let_chain(&b.left) || in_let_chain(&b.right)
        }
        _ => false,
    }
}

impl VisitMut for Rewriter<'_> {
    fn visit_item_fn_mut(&mut self, item: &mut ItemFn) {
        let constness = item.sig.constness.is_some();
        self.constant += usize::from(constness);
        visit_mut::visit_item_fn_mut(self, item);
        self.constant -= usize::from(constness);
        self.fn_body(&item.sig, &mut item.block);
    }

    fn visit_impl_item_fn_mut(&mut self, item: &mut syn::ImplItemFn) {
        let constness = item.sig.constness.is_some();
        self.constant += usize::from(constness);
        visit_mut::visit_impl_item_fn_mut(self, item);
        self.constant -= usize::from(constness);
        self.fn_body(&item.sig, &mut item.block);
    }

    fn visit_trait_item_fn_mut(&mut self, item: &mut syn::TraitItemFn) {
        let constness = item.sig.constness.is_some();
        self.constant += usize::from(constness);
        visit_mut::visit_trait_item_fn_mut(self, item);
        self.constant -= usize::from(constness);
        if let Some(block) = &mut item.default {
            self.fn_body(&item.sig, block);
        }
    }

    fn visit_item_const_mut(&mut self, item: &mut syn::ItemConst) {
        self.constant += 1;
        visit_mut::visit_item_const_mut(self, item);
        self.constant -= 1;
    }

    fn visit_item_static_mut(&mut self, item: &mut syn::ItemStatic) {
        self.constant += 1;
        visit_mut::visit_item_static_mut(self, item);
        self.constant -= 1;
    }

    fn visit_impl_item_const_mut(&mut self, item: &mut syn::ImplItemConst) {
        self.constant += 1;
        visit_mut::visit_impl_item_const_mut(self, item);
        self.constant -= 1;
    }

    fn visit_variant_mut(&mut self, item: &mut syn::Variant) {
        self.constant += 1;
        visit_mut::visit_variant_mut(self, item);
        self.constant -= 1;
    }

    fn visit_type_mut(&mut self, ty: &mut syn::Type) {
        // Array lengths and const generic arguments inside types are constant contexts.
        self.constant += 1;
        visit_mut::visit_type_mut(self, ty);
        self.constant -= 1;
    }

    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        let operand = std::mem::take(&mut self.in_chain);
        if let Expr::Binary(b) = expr {
            let regrouped = if operand {
                Vec::new()
            } else {
                self.regroup(&Expr::Binary(b.clone()))
            };
            for attr in &mut b.attrs {
                self.visit_attribute_mut(attr);
            }
            self.in_chain = true;
            self.visit_expr_mut(&mut b.left);
            self.in_chain = true;
            self.visit_expr_mut(&mut b.right);
            self.in_chain = false;
            self.binary(expr);
            if !regrouped.is_empty() {
                *expr = self.chain(regrouped, expr.clone());
            }
            return;
        }
        match expr {
            Expr::Repeat(r) => {
                self.visit_expr_mut(&mut r.expr);
                self.constant += 1;
                self.visit_expr_mut(&mut r.len);
                self.constant -= 1;
                return;
            }
            Expr::Closure(_) => {
                // A closure runs at run time even inside a static's initializer.
                let outer = std::mem::replace(&mut self.constant, 0);
                visit_mut::visit_expr_mut(self, expr);
                self.constant = outer;
                return;
            }
            Expr::Const(_) => {
                self.constant += 1;
                visit_mut::visit_expr_mut(self, expr);
                self.constant -= 1;
                return;
            }
            _ => visit_mut::visit_expr_mut(self, expr),
        }
        match expr {
            Expr::Unary(_) => self.unary(expr),
            Expr::Struct(s) => self.fields(s),
            _ => {}
        }
    }

    fn visit_arm_mut(&mut self, arm: &mut Arm) {
        let guard_at = arm.guard.as_ref().map(|(_, g)| start_key(g.span()));
        let start = start_key(
            arm.attrs
                .first()
                .map_or_else(|| arm.pat.span(), |a| a.span()),
        );
        visit_mut::visit_arm_mut(self, arm);
        self.arm(arm, guard_at, start);
    }
}

fn index(listed: &[Listed], skip: &BTreeSet<usize>) -> BTreeMap<String, FileMutants> {
    let mut files: BTreeMap<String, FileMutants> = BTreeMap::new();
    for (id, m) in listed.iter().enumerate() {
        if skip.contains(&id) {
            continue;
        }
        let f = files.entry(m.file.clone()).or_default();
        let at = (m.span.start.line, m.span.start.column);
        let with = (id, m.replacement.clone());
        match m.genre.as_str() {
            "FnValue" => {
                if let Some(func) = &m.function {
                    let end = (func.span.end.line, func.span.end.column);
                    f.fn_value.entry(end).or_default().push(with);
                }
            }
            "BinaryOperator" => f.binary.entry(at).or_default().push(with),
            "UnaryOperator" => f.unary.entry(at).or_default().push(id),
            "MatchArm" => f.arm.entry(at).or_default().push(id),
            "MatchArmGuard" => f.guard.entry(at).or_default().push(with),
            "StructField" => f.field.entry(at).or_default().push(id),
            _ => {}
        }
    }
    files
}

/// A file's mutants once rewritten: each one's status, and those switched at their chain's root.
type Settled = (BTreeMap<usize, String>, BTreeSet<usize>);

/// Rewrites one file's text: every mutant of `mutants` behind its switch.
fn rewrite_text(
    text: &str,
    file: &str,
    mutants: &FileMutants,
) -> Result<(String, Settled), String> {
    let mut ast = syn::parse_file(text).map_err(|e| format!("{file}: {e}"))?;
    let krate: syn::Path = if file.starts_with("reference/src/bin/") {
        parse_quote!(::threads)
    } else {
        parse_quote!(crate)
    };
    let mut rewriter = Rewriter {
        mutants,
        krate,
        constant: 0,
        in_chain: false,
        status: BTreeMap::new(),
        regrouped: BTreeSet::new(),
    };
    rewriter.visit_file_mut(&mut ast);
    Ok((
        prettyplease::unparse(&ast),
        (rewriter.status, rewriter.regrouped),
    ))
}

fn rewrite(root: &Path, file: &str, mutants: &FileMutants) -> Result<Settled, String> {
    let path = root.join(file);
    let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (rewritten, settled) = rewrite_text(&text, file, mutants)?;
    fs::write(&path, rewritten).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(settled)
}

/// The switch every mutant goes through, added to the library as `__mutants`.
fn runtime(count: usize) -> String {
    format!(
        r#"//! Generated by harness/mutants/schemata: the run-time switch of the mutant schemata.
#![allow(missing_docs)]
use std::io::Write;
use std::sync::atomic::{{AtomicBool, Ordering}};
use std::sync::{{Mutex, OnceLock}};

const COUNT: usize = {count};
static ACTIVE: OnceLock<Option<u32>> = OnceLock::new();
static TRACE: OnceLock<Option<Mutex<std::fs::File>>> = OnceLock::new();
static SEEN: [AtomicBool; COUNT] = [const {{ AtomicBool::new(false) }}; COUNT];

/// True when mutant `id` is the one `THREADS_MUTANT` names; with `THREADS_MUTANTS_TRACE`, the
/// first time a process reaches `id` it appends it to its trace file.
pub fn on(id: u32) -> bool {{
    if let Some(trace) = TRACE.get_or_init(open_trace) {{
        if !SEEN[id as usize].swap(true, Ordering::Relaxed) {{
            if let Ok(mut file) = trace.lock() {{
                let _ = writeln!(file, "{{id}}");
            }}
        }}
    }}
    *ACTIVE.get_or_init(|| std::env::var("THREADS_MUTANT").ok().and_then(|v| v.parse().ok())) == Some(id)
}}

fn open_trace() -> Option<Mutex<std::fs::File>> {{
    let dir = std::path::PathBuf::from(std::env::var_os("THREADS_MUTANTS_TRACE")?);
    std::fs::create_dir_all(&dir).ok()?;
    let path = dir.join(std::process::id().to_string());
    let file = std::fs::OpenOptions::new().create(true).append(true).open(path).ok()?;
    Some(Mutex::new(file))
}}
"#
    )
}

fn run(cli: &Cli) -> Result<(), String> {
    let text =
        fs::read_to_string(&cli.mutants).map_err(|e| format!("{}: {e}", cli.mutants.display()))?;
    let listed: Vec<Listed> =
        serde_json::from_str(&text).map_err(|e| format!("mutants list: {e}"))?;
    let mut skip: BTreeSet<usize> = cli.skip.iter().copied().collect();
    let excluded: BTreeSet<usize> = (0..listed.len())
        .filter(|id| cli.exclude_file.contains(&listed[*id].file))
        .collect();
    skip.extend(&excluded);
    let mut status: BTreeMap<usize, String> = BTreeMap::new();
    let mut regrouped = BTreeSet::new();
    for (file, mutants) in index(&listed, &skip) {
        let (mut settled, mut chains) = rewrite(&cli.root, &file, &mutants)?;
        status.append(&mut settled);
        regrouped.append(&mut chains);
    }
    let lib = cli.root.join("reference/src/lib.rs");
    let mut lib_text = fs::read_to_string(&lib).map_err(|e| format!("{}: {e}", lib.display()))?;
    lib_text.push_str("\n#[doc(hidden)]\npub mod __mutants;\n");
    fs::write(&lib, lib_text).map_err(|e| format!("{}: {e}", lib.display()))?;
    let module = cli.root.join("reference/src/__mutants.rs");
    fs::write(&module, runtime(listed.len())).map_err(|e| format!("{}: {e}", module.display()))?;
    let manifest: Vec<Entry> = listed
        .iter()
        .enumerate()
        .map(|(id, m)| Entry {
            id,
            name: m.name.clone(),
            file: m.file.clone(),
            genre: m.genre.clone(),
            regrouped: regrouped.contains(&id),
            status: if excluded.contains(&id) {
                "excluded".into()
            } else if skip.contains(&id) {
                "skipped".into()
            } else {
                status
                    .get(&id)
                    .cloned()
                    .unwrap_or_else(|| "not found in the syntax tree".into())
            },
        })
        .collect();
    let json = serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())?;
    fs::write(&cli.manifest, json).map_err(|e| format!("{}: {e}", cli.manifest.display()))?;
    let applied = manifest.iter().filter(|e| e.status == "applied").count();
    eprintln!("schemata: {applied} of {} mutants applied", listed.len());
    Ok(())
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("schemata: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(
        text: &str,
        file: &str,
        mutants: FileMutants,
    ) -> (String, BTreeMap<usize, String>) {
        let (out, (status, _)) = rewrite_text(text, file, &mutants).expect("parses");
        (out.split_whitespace().collect::<Vec<_>>().join(" "), status)
    }

    #[test]
    fn an_operator_is_switched_and_the_original_kept_in_the_else_branch() {
        let mut m = FileMutants::default();
        m.binary
            .insert((1, 32), vec![(7, "<=".into()), (8, "==".into())]);
        let (out, status) = rewritten(
            "fn f(a: u8, b: u8) -> bool { a < b }",
            "reference/src/x.rs",
            m,
        );
        let want = "(if crate::__mutants::on(7u32) { (a) <= (b) } else { if crate::__mutants::on(8u32) { (a) == (b) } else { a < b } })";
        assert!(out.contains(want), "{out}");
        assert_eq!(status.get(&7).map(String::as_str), Some("applied"));
    }

    /// cargo-mutants replaces the operator in the text: with the first `&&` of `a && b && c`
    /// made `||` the chain reads `a || (b && c)`, switched at the chain's root; the second
    /// `&&` made `||` reads `(a && b) || c` either way, switched where it is.
    #[test]
    fn an_operator_whose_text_regroups_its_chain_is_switched_at_the_root() {
        let mut m = FileMutants::default();
        m.binary.insert((1, 45), vec![(1, "||".into())]);
        m.binary.insert((1, 50), vec![(2, "||".into())]);
        let text = "fn f(a: bool, b: bool, c: bool) -> bool { a && b && c }";
        let (out, (status, regrouped)) =
            rewrite_text(text, "reference/src/x.rs", &m).expect("parses");
        let out = out.split_whitespace().collect::<Vec<_>>().join(" ");
        let want = "(if crate::__mutants::on(1u32) { a || b && c } else { (if crate::__mutants::on(2u32) { ((a && b)) || (c) } else { (a && b) && c }) })";
        assert!(out.contains(want), "{out}");
        assert_eq!(regrouped, BTreeSet::from([1]));
        assert_eq!(status.get(&1).map(String::as_str), Some("applied"));
        let parsed: Expr = syn::parse_str("a || b && c").expect("parses");
        assert_eq!(grouping(&parsed, None), "(_||(_&&_))");
    }

    #[test]
    fn a_function_value_returns_early_behind_its_switch() {
        let mut m = FileMutants::default();
        m.fn_value.insert((1, 31), vec![(3, "true".into())]);
        let (out, _) = rewritten("fn f(a: u8) -> bool { a == 0 }", "reference/src/x.rs", m);
        assert!(
            out.contains("{ if crate::__mutants::on(3u32) { return true; } a == 0 }"),
            "{out}"
        );
    }

    #[test]
    fn a_deleted_arm_never_matches_and_a_guard_is_switched() {
        let mut m = FileMutants::default();
        m.arm.insert((1, 31), vec![4]);
        m.guard.insert((1, 44), vec![(5, "false".into())]);
        let text = "fn f(a: u8) -> u8 { match a { 0 => 1, 2 if a > 1 => 3, _ => 0 } }";
        let (out, _) = rewritten(text, "reference/src/x.rs", m);
        assert!(
            out.contains("0 if !crate::__mutants::on(4u32) && true => 1"),
            "{out}"
        );
        let guard = "2 if (if crate::__mutants::on(5u32) { false } else { a > 1 }) => 3";
        assert!(out.contains(guard), "{out}");
    }

    #[test]
    fn constant_contexts_and_let_chains_are_not_switched() {
        let mut m = FileMutants::default();
        m.binary.insert((1, 18), vec![(1, ">>".into())]);
        m.binary.insert((1, 73), vec![(2, "||".into())]);
        let text = "const X: u32 = 1 << 4; fn f(a: Option<u8>) -> bool { if let Some(_) = a && true { true } else { false } }";
        let (out, status) = rewritten(text, "reference/src/x.rs", m);
        assert!(!out.contains("__mutants"), "{out}");
        assert_eq!(status.get(&1).map(String::as_str), Some("constant context"));
        assert_eq!(status.get(&2).map(String::as_str), Some("let chain"));
    }

    #[test]
    fn a_binary_of_the_package_reaches_the_switch_through_the_library() {
        let mut m = FileMutants::default();
        m.unary.insert((1, 25), vec![9]);
        let (out, _) = rewritten("fn f(a: bool) -> bool { !a }", "reference/src/bin/x.rs", m);
        assert!(
            out.contains("(if ::threads::__mutants::on(9u32) { a } else { !a })"),
            "{out}"
        );
    }
}
