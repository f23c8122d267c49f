fn main() {
    let suites = threads_vectors::generate::all_suites();
    match suites {
        Ok(s) => {
            for f in s {
                println!("{} {}", f.suite, f.number_of_tests);
                std::fs::create_dir_all("/tmp/vout").ok();
                std::fs::write(format!("/tmp/vout/{}.json", f.suite), f.to_json()).ok();
            }
        }
        Err(e) => eprintln!("{e}"),
    }
}
