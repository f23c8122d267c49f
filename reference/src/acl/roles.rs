//! Roles and actions (spec/acl.md, chapter 6, [ACL-1], [ACL-2]): the ordered roles, the delete
//! capability and a peer's entry in the document.

use std::fmt;
use std::str::FromStr;

use super::{DELETE, malformed};
use crate::error::{Error, ErrorCode, Result};

/// A peer's ordered role [ACL-1]: each role implies every role below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Nothing: no keys are sent to the peer and none of its records are accepted.
    NoAccess,
    /// The peer may receive the follow key: it verifies, stores and serves.
    Follow,
    /// Follow, and the peer may receive the read key.
    Read,
    /// Read, and the peer's records are accepted (subject to its cut, [ACL-7]).
    Write,
}

impl Role {
    /// Every ordered role, lowest first [ACL-1].
    pub const ALL: [Role; 4] = [Role::NoAccess, Role::Follow, Role::Read, Role::Write];

    /// The role's name on the wire and in JSON [ACL-3].
    pub fn name(self) -> &'static str {
        match self {
            Role::NoAccess => "no-access",
            Role::Follow => "follow",
            Role::Read => "read",
            Role::Write => "write",
        }
    }

    /// The ordered role with this name; anything else (including `"delete"`) is ACL_MALFORMED [ACL-3].
    pub fn from_name(name: &str) -> Result<Role> {
        Role::ALL
            .into_iter()
            .find(|role| role.name() == name)
            .ok_or_else(|| malformed(format!("{name:?} is not an ordered role")))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Role {
    type Err = Error;

    fn from_str(name: &str) -> Result<Role> {
        Role::from_name(name)
    }
}

/// What a peer asks to do; [`AclDocument::may`](super::AclDocument::may) decides [ACL-2].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// Receive the follow key (needs follow).
    Follow,
    /// Receive the read key (needs read).
    Read,
    /// Have its records accepted (needs write).
    Write,
    /// Mark events deleted (needs the delete capability).
    Delete,
    /// Change the ACL (needs to be in `admins`, the ACL's own ACL).
    Admin,
}

impl Action {
    /// The action's name, as used in messages and vectors.
    pub fn name(self) -> &'static str {
        match self {
            Action::Follow => "follow",
            Action::Read => "read",
            Action::Write => "write",
            Action::Delete => "delete",
            Action::Admin => "admin",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The action with this name (as [`Action::name`] writes it); any other text is BAD_REQUEST
/// [ACL-2].
impl FromStr for Action {
    type Err = Error;

    fn from_str(name: &str) -> Result<Action> {
        [
            Action::Follow,
            Action::Read,
            Action::Write,
            Action::Delete,
            Action::Admin,
        ]
        .into_iter()
        .find(|action| action.name() == name)
        .ok_or_else(|| Error::new(ErrorCode::BadRequest, format!("unknown action {name:?}")))
    }
}

/// One peer's entry in `peers`: at most one ordered role and, optionally, delete [ACL-3].
///
/// An entry without an ordered role takes the document's `default` for ordered decisions
/// [ACL-2]; `Roles::NONE` is not an entry at all (setting it removes the peer's entry, [ACL-13]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Roles {
    /// The ordered role, if the entry names one.
    pub role: Option<Role>,
    /// Whether the entry carries the delete capability.
    pub delete: bool,
}

impl Roles {
    /// No role and no capability: as an op, removes the peer's entry [ACL-13].
    pub const NONE: Roles = Roles {
        role: None,
        delete: false,
    };

    /// An entry holding one ordered role.
    pub const fn of(role: Role) -> Roles {
        Roles {
            role: Some(role),
            delete: false,
        }
    }

    /// The same entry with the delete capability added.
    pub const fn with_delete(self) -> Roles {
        Roles {
            delete: true,
            ..self
        }
    }

    /// Whether the entry names nothing.
    pub fn is_empty(&self) -> bool {
        *self == Roles::NONE
    }

    /// Whether the entry itself names write; a cut is required exactly when it does not [ACL-5].
    pub fn names_write(&self) -> bool {
        self.role == Some(Role::Write)
    }

    /// The canonical list: names sorted bytewise, so `"delete"` comes first [ACL-3].
    pub fn names(&self) -> Vec<&'static str> {
        let delete = self.delete.then_some(DELETE);
        delete
            .into_iter()
            .chain(self.role.map(Role::name))
            .collect()
    }

    /// Parses a role list, which must be the canonical list of what it names: known names,
    /// sorted, no duplicates, at most one ordered role [ACL-3]. An empty list gives `NONE`.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Result<Roles> {
        let mut roles = Roles::NONE;
        for name in names.iter().map(AsRef::as_ref) {
            if name == DELETE {
                roles.delete = true;
            } else if roles.role.replace(Role::from_name(name)?).is_some() {
                return Err(malformed("a role list holds at most one ordered role"));
            }
        }
        // Duplicates and disorder both show up as a difference from the canonical list.
        if !roles
            .names()
            .iter()
            .copied()
            .eq(names.iter().map(AsRef::as_ref))
        {
            return Err(malformed(
                "a role list must be sorted and hold each name once",
            ));
        }
        Ok(roles)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::test_support::*;
    use crate::error::ErrorCode;

    #[test]
    fn roles_are_ordered_and_named() {
        assert!(Role::NoAccess < Role::Follow && Role::Follow < Role::Read);
        assert!(Role::Read < Role::Write);
        for role in Role::ALL {
            assert_eq!(role.name().parse::<Role>(), Ok(role));
        }
        assert_eq!(code(Role::from_name(DELETE)), ErrorCode::AclMalformed);
    }

    #[test]
    fn role_lists_must_be_canonical() {
        let both = Roles::of(Role::Write).with_delete();
        assert_eq!(both.names(), ["delete", "write"]);
        assert_eq!(Roles::from_names(&["delete", "write"]), Ok(both));
        assert_eq!(Roles::from_names::<&str>(&[]), Ok(Roles::NONE));
        for bad in [
            &["write", "delete"][..],
            &["delete", "delete"],
            &["read", "write"],
            &["admin"],
            &["Write"],
        ] {
            assert_eq!(
                code(Roles::from_names(bad)),
                ErrorCode::AclMalformed,
                "{bad:?}"
            );
        }
    }
}
