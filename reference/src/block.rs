//! Blocks and links (spec/records.md, [REC-1]..[REC-4]): DAG-CBOR encoding, canonical decoding and CIDs.

use cid::Cid;
use multihash::Multihash;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorCode, Result};

/// Multicodec code of DAG-CBOR [REC-1].
pub const DAG_CBOR: u64 = 0x71;
/// Multihash code of sha2-256 [REC-1].
pub const SHA2_256: u64 = 0x12;
/// Largest block a peer accepts: 1 MiB [REC-4].
pub const MAX_BLOCK_SIZE: usize = 1 << 20;

/// The CID of a block: CIDv1, dag-cbor, sha2-256 over the exact bytes [REC-1].
pub fn cid_of(block: &[u8]) -> Cid {
    let digest = Sha256::digest(block);
    let hash = Multihash::wrap(SHA2_256, &digest).expect("a 32-byte digest fits a multihash");
    Cid::new_v1(DAG_CBOR, hash)
}

/// Checks that a link is CIDv1, dag-cbor, sha2-256 with a 32-byte digest [REC-2].
pub fn check_link(cid: &Cid) -> Result<()> {
    let hash = cid.hash();
    let ok = cid.version() == cid::Version::V1
        && cid.codec() == DAG_CBOR
        && hash.code() == SHA2_256
        && hash.size() == 32;
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::CidUnsupported,
            format!("link {cid} is not CIDv1/dag-cbor/sha2-256"),
        ))
    }
}

/// Checks that a block is within [`MAX_BLOCK_SIZE`] [REC-4].
pub fn check_size(what: &str, block: &[u8]) -> Result<()> {
    if block.len() > MAX_BLOCK_SIZE {
        return Err(Error::new(
            ErrorCode::BlockTooLarge,
            format!(
                "{what} block has {} bytes, at most {MAX_BLOCK_SIZE} allowed",
                block.len()
            ),
        ));
    }
    Ok(())
}

/// Encodes a node as canonical DAG-CBOR [REC-1].
pub fn encode<T: Serialize>(node: &T) -> Vec<u8> {
    // Our nodes hold only maps, strings, byte strings, unsigned integers, null and CIDs, all of
    // which DAG-CBOR can represent; encoding them cannot fail.
    serde_ipld_dagcbor::to_vec(node).expect("protocol nodes are always DAG-CBOR encodable")
}

/// Decodes a node and rejects any encoding that is not the canonical one [REC-3].
///
/// Canonical means: re-encoding the decoded value gives back the same bytes. This one comparison
/// rejects unsorted or duplicate map keys, non-minimal integers, extra or missing fields and
/// trailing bytes, so a node has exactly one valid encoding and thus one CID.
pub fn decode_canonical<T: DeserializeOwned + Serialize>(
    bytes: &[u8],
    code: ErrorCode,
) -> Result<T> {
    let node: T = serde_ipld_dagcbor::from_slice(bytes)
        .map_err(|e| Error::new(code, format!("not the expected DAG-CBOR node: {e}")))?;
    if encode(&node) != bytes {
        return Err(Error::new(code, "not the canonical DAG-CBOR encoding"));
    }
    Ok(node)
}

/// A block that is one DAG-CBOR byte string: how sealed layers are stored [REC-5], [REC-6], [REC-8].
pub fn encode_byte_string(bytes: &[u8]) -> Vec<u8> {
    encode(&serde_bytes::Bytes::new(bytes))
}

/// The bytes inside a byte-string block; anything else is BLOCK_MALFORMED [REC-3].
pub fn decode_byte_string(block: &[u8]) -> Result<Vec<u8>> {
    let bytes: serde_bytes::ByteBuf = decode_canonical(block, ErrorCode::BlockMalformed)?;
    Ok(bytes.into_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cid_of_empty_map_matches_the_well_known_value() {
        // The DAG-CBOR empty map (0xa0) has this CID in every IPLD implementation.
        assert_eq!(
            cid_of(&[0xa0]).to_string(),
            "bafyreigbtj4x7ip5legnfznufuopl4sg4knzc2cof6duas4b3q2fy6swua"
        );
    }

    #[test]
    fn non_canonical_encodings_are_rejected() {
        // 0x1817 encodes 23 in two bytes; the canonical form is the single byte 0x17.
        assert_eq!(
            decode_canonical::<u64>(&[0x18, 0x17], ErrorCode::BlockMalformed).map_err(|e| e.code),
            Err(ErrorCode::BlockMalformed)
        );
        assert_eq!(
            decode_canonical::<u64>(&[0x17], ErrorCode::BlockMalformed),
            Ok(23)
        );
        // Trailing bytes after a valid node.
        assert!(decode_canonical::<u64>(&[0x17, 0x00], ErrorCode::BlockMalformed).is_err());
    }

    #[test]
    fn byte_string_blocks_round_trip() {
        let block = encode_byte_string(b"abc");
        assert_eq!(block, [0x43, b'a', b'b', b'c']);
        assert_eq!(decode_byte_string(&block), Ok(b"abc".to_vec()));
        assert_eq!(
            decode_byte_string(&[0x63, b'a', b'b', b'c']).map_err(|e| e.code),
            Err(ErrorCode::BlockMalformed)
        );
    }

    #[test]
    fn only_v1_dag_cbor_sha256_links_are_supported() {
        let good = cid_of(b"x");
        assert_eq!(check_link(&good), Ok(()));
        let raw = Cid::new_v1(0x55, *good.hash());
        assert_eq!(
            check_link(&raw).map_err(|e| e.code),
            Err(ErrorCode::CidUnsupported)
        );
        let v0 = Cid::new_v0(*good.hash()).expect("sha2-256 multihash makes a CIDv0");
        assert_eq!(
            check_link(&v0).map_err(|e| e.code),
            Err(ErrorCode::CidUnsupported)
        );
    }
}
