//! Issuing and opening an invite (spec/invites.md, chapter 5, [INV-4], [INV-6], [INV-9]): every
//! check of [INV-6] in order, and the role and ACL checks both ends share.

use rand_core::CryptoRng;

use super::wire::{check_acl, check_logs, check_size};
use super::{Invite, InviteRole, LogEntry, header_bytes, malformed, open_key_set, seal_key_set};
use crate::acl::{AclAnchor, Action};
use crate::error::{Error, ErrorCode, Result};
use crate::id::{LogId, ThreadId};
use crate::keys::{IdentityKey, KeySet};

/// What the inviter offers, before sealing and signing [INV-3], [INV-4].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteTerms {
    /// The thread.
    pub thread: ThreadId,
    /// The role the recipient is invited to.
    pub role: InviteRole,
    /// The recipient's peer ID [LOGID-4].
    pub recipient: LogId,
    /// The thread's logs the inviter knows; [`Invite::create`] sorts them by log ID.
    pub logs: Vec<LogEntry>,
    /// The current ACL document (chapter 6) in an access-controlled thread; `None` in a raw one.
    pub acl: Option<Vec<u8>>,
}

/// What a recipient gets from an invite that passed every check of [INV-6].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedInvite {
    /// The thread.
    pub thread: ThreadId,
    /// The role offered; the key set agrees with it.
    pub role: InviteRole,
    /// Who signed the invite.
    pub inviter: LogId,
    /// The thread's keys: follow key, and read key unless `role` is follower.
    pub keys: KeySet,
    /// The logs and addresses to fetch them from.
    pub logs: Vec<LogEntry>,
    /// The ACL document bytes in an access-controlled thread (checked by chapter 6, [INV-9]).
    pub acl: Option<Vec<u8>>,
}

impl Invite {
    /// Seals `keys` to `terms.recipient` and signs the invite as `inviter` [INV-2], [INV-4], [INV-5].
    ///
    /// A follower invite carries the follow key only, whatever `keys` holds: the read key is
    /// never sent to a follower [KEY-6]. A reader or writer invite needs the read key
    /// (KEY_UNAVAILABLE without it [KEY-7]). Terms the decoder would refuse (an ACL in a raw thread,
    /// none in an access-controlled one, a bad address, a log listed twice, an invite over 1 MiB)
    /// are refused with INVITE_MALFORMED [INV-3]. Draws exactly [`IKM_LEN`](super::IKM_LEN) bytes
    /// from `rng`.
    ///
    /// In an access-controlled thread the caller first checks that the ACL grants the recipient
    /// the role (ACL_DENIED otherwise, [INV-9]); that decision belongs to chapter 6's module.
    pub fn create(
        inviter: &IdentityKey,
        terms: InviteTerms,
        keys: &KeySet,
        rng: &mut impl CryptoRng,
    ) -> Result<Invite> {
        let keys = key_set_for(terms.role, keys)?;
        let mut logs = terms.logs;
        logs.sort_by_key(|entry| entry.log);
        check_logs(&logs)?;
        check_acl(&terms.thread, terms.acl.as_deref())?;
        let inviter_id = inviter.log_id();
        let aad = header_bytes(&terms.thread, terms.role, &inviter_id, &terms.recipient);
        let (enc, sealed_keys) = seal_key_set(&keys, &terms.recipient, &aad, rng)?;
        let mut invite = Invite {
            thread: terms.thread,
            role: terms.role,
            inviter: inviter_id,
            recipient: terms.recipient,
            logs,
            acl: terms.acl,
            enc,
            sealed_keys,
            sig: [0; 64],
        };
        invite.sign_with(inviter);
        check_size(&invite.to_bytes())?;
        check_acl_grants(
            &invite.thread,
            invite.acl.as_deref(),
            &invite.recipient,
            invite.role,
        )?;
        Ok(invite)
    }

    /// Runs every check of [INV-6] in order and returns the thread's keys.
    ///
    /// The ACL checks of an access-controlled thread ([INV-9]: ACL_MALFORMED, ACL_DENIED) come
    /// after these and belong to chapter 6; the ACL bytes are returned for them.
    pub fn open(bytes: &[u8], recipient: &IdentityKey) -> Result<OpenedInvite> {
        // Step 1: the exact encoding.
        let invite = Invite::from_bytes(bytes)?;
        // Step 2: addressed to us; checked before any cryptography, so a peer never spends work
        // (or leaks timing) on invites meant for someone else.
        let me = recipient.log_id();
        if invite.recipient != me {
            return Err(Error::new(
                ErrorCode::InviteWrongRecipient,
                format!("invite is for {}, not {me}", invite.recipient),
            ));
        }
        // Step 3: the inviter signed exactly this.
        invite.verify_signature()?;
        // Steps 4-5: the sealed key set opens with our key and decodes.
        let keys = open_key_set(
            recipient,
            &invite.enc,
            &invite.header(),
            &invite.sealed_keys,
        )?;
        // Step 6: the keys are the ones the role promises.
        check_role_keys(invite.role, &keys)?;
        // Step 7: in an access-controlled thread, the ACL grants us the invited role.
        check_acl_grants(&invite.thread, invite.acl.as_deref(), &me, invite.role)?;
        Ok(OpenedInvite {
            thread: invite.thread,
            role: invite.role,
            inviter: invite.inviter,
            keys,
            logs: invite.logs,
            acl: invite.acl,
        })
    }
}

/// The key set an invite for `role` carries [INV-1], [INV-4].
fn key_set_for(role: InviteRole, keys: &KeySet) -> Result<KeySet> {
    if role.has_read_key() {
        keys.read_key()?;
        Ok(keys.clone())
    } else {
        Ok(keys.for_follower())
    }
}

/// Step 6 of [INV-6]: a follower gets no read key, a reader or writer gets one.
fn check_role_keys(role: InviteRole, keys: &KeySet) -> Result<()> {
    if role.has_read_key() == keys.read.is_some() {
        return Ok(());
    }
    let why = if role.has_read_key() {
        "lacks the read key"
    } else {
        "carries a read key"
    };
    Err(malformed(format!(
        "a {} invite whose key set {why}",
        role.name()
    )))
}

/// The ACL an access-controlled thread's invite carries must grant the recipient the invited
/// role: an inviter refuses to issue, and a recipient refuses to accept, anything else [INV-9].
fn check_acl_grants(
    thread: &ThreadId,
    acl: Option<&[u8]>,
    recipient: &LogId,
    role: InviteRole,
) -> Result<()> {
    let Some(bytes) = acl else { return Ok(()) };
    let anchor = AclAnchor::from_bytes(bytes)?;
    anchor.document.check_thread(thread)?;
    let action = match role {
        InviteRole::Follower => Action::Follow,
        InviteRole::Reader => Action::Read,
        InviteRole::Writer => Action::Write,
    };
    anchor.document.may(recipient, action)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::Variant;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn invite_round_trips_and_opens() {
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        let thread = ThreadId::generate(Variant::Raw, &mut rng);
        let inviter = IdentityKey::generate(&mut rng);
        let recipient = IdentityKey::generate(&mut rng);
        let keys = KeySet::generate(&mut rng);
        for role in InviteRole::ALL {
            let terms = InviteTerms {
                thread: thread.clone(),
                role,
                recipient: recipient.log_id(),
                logs: vec![],
                acl: None,
            };
            let invite = Invite::create(&inviter, terms, &keys, &mut rng).expect("creates");
            let bytes = invite.to_bytes();
            assert_eq!(Invite::from_bytes(&bytes), Ok(invite));
            let opened = Invite::open(&bytes, &recipient).expect("opens");
            assert_eq!(opened.role, role);
            assert_eq!(opened.inviter, inviter.log_id());
            let expected = if role.has_read_key() {
                keys.clone()
            } else {
                keys.for_follower()
            };
            assert_eq!(opened.keys, expected);
        }
    }
}
