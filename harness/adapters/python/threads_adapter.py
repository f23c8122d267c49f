#!/usr/bin/env python3
"""A worked example of a threads-harness adapter, in Python 3.11 with the standard library only.

The conformance harness runs an *adapter* as a subprocess and talks to it in newline-delimited
JSON: one request per line on the adapter's standard input, one reply per line on its standard
output (spec/harness-protocol.md, "threads-harness protocol 1"). The adapter's job is to translate
those requests into calls on the implementation under test. Here the "implementation" is the
Thread ID code in this very file, so the example is self-contained.

What this adapter implements:

- `hello` and `shutdown`, the two methods every adapter needs (HP-14, HP-42);
- `vector` for three operations of vectors/README.md: `tid.decode`, `tid.decodeBytes` and
  `tid.encode` (spec/identifiers.md, TID-1 to TID-7).

Everything else is answered with the error UNSUPPORTED; and since `hello` lists only these three
operations and no scenario feature, the harness runs the `tid` suite and reports the other suites
and the live scenarios as skipped (HP-16).

Run it by hand to see the protocol at work:

    $ printf '%s\n' '{"id":1,"method":"hello","params":{"protocol":1,"harness":"me 0"}}' \
        | python3 threads_adapter.py

Read the file from top to bottom: the Thread ID rules first (uvarints, the binary form, every
multibase a decoder must accept), then the three operations, then the protocol loop.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import traceback

# --------------------------------------------------------------------------------------------
# Who we are (the `hello` result, HP-14)
# --------------------------------------------------------------------------------------------

PROTOCOL = 1  # threads-harness protocol 1; we speak no other (HP-1)
IMPLEMENTATION = "threads-python-example"
VERSION = "0.1.0"

# The vector operations we implement. The harness runs a suite only if *every* operation the
# suite uses is listed here; we list exactly what we implement and nothing more (HP-14, HP-16).
OPERATIONS = ["tid.decode", "tid.decodeBytes", "tid.encode"]

# Scenario features. "nodes" would announce the node methods (node.create, ...); we have none.
SCENARIOS: list[str] = []


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class ProtocolError(Exception):
    """A failure that the harness should see as an error reply.

    `code` is the *name* of a code in the error registry (spec/errors.md), for example
    "TID_SHORT_RANDOM"; the harness compares it with the vector's `errorCode`. `message` is free
    text for humans: the harness shows it but never compares it.
    """

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


# Shorthands for the codes this file raises. The 1xx codes are the ones of chapter 1
# (spec/identifiers.md); the 9xx codes belong to the harness protocol itself (HP-12).
def bad_multibase(why: str) -> ProtocolError:
    return ProtocolError("TID_BAD_MULTIBASE", why)


def bad_request(why: str) -> ProtocolError:
    return ProtocolError("BAD_REQUEST", why)


# --------------------------------------------------------------------------------------------
# uvarint (spec/README.md, "uvarint"; TID-5)
# --------------------------------------------------------------------------------------------
#
# A uvarint stores a number in 7-bit groups, least significant group first; the high bit of each
# byte says "more bytes follow". This specification adds two rules to the multiformats one: the
# encoding must be minimal (no useless trailing 0x80 groups) and at most 9 bytes long.

MAX_UVARINT_BYTES = 9


def read_uvarint(data: bytes, pos: int) -> tuple[int, int]:
    """Reads one uvarint from `data` at `pos`; returns (value, position after it).

    Fails with TID_BAD_VARINT if the input ends too early (including "no byte at all"), if the
    encoding is not minimal, or if it runs past 9 bytes (TID-5).
    """
    value = 0
    for i in range(MAX_UVARINT_BYTES):
        if pos + i >= len(data):
            if i == 0:
                raise ProtocolError("TID_BAD_VARINT", f"no uvarint at byte {pos}: the input ends")
            raise ProtocolError("TID_BAD_VARINT", f"uvarint at byte {pos} is truncated")
        byte = data[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if byte & 0x80 == 0:  # the last byte of this uvarint
            # Minimal: a last byte of 0x00 after other bytes adds nothing, so a shorter encoding
            # of the same number exists (e.g. 81 00 for 1, whose minimal form is 01).
            if i > 0 and byte == 0:
                raise ProtocolError(
                    "TID_BAD_VARINT", f"uvarint at byte {pos} is not minimal"
                )
            return value, pos + i + 1
    raise ProtocolError(
        "TID_BAD_VARINT", f"uvarint at byte {pos} is longer than {MAX_UVARINT_BYTES} bytes"
    )


def write_uvarint(value: int) -> bytes:
    """Encodes a non-negative integer as a minimal uvarint."""
    out = bytearray()
    while True:
        group = value & 0x7F
        value >>= 7
        if value:
            out.append(group | 0x80)
        else:
            out.append(group)
            return bytes(out)


# --------------------------------------------------------------------------------------------
# Thread IDs: the binary form (TID-1 to TID-5)
# --------------------------------------------------------------------------------------------

TID_VERSION = 1
VARIANTS = {0x55: "raw", 0x70: "access-controlled"}  # TID-3
VARIANT_CODES = {name: code for code, name in VARIANTS.items()}
MIN_RANDOM, MAX_RANDOM = 16, 64  # TID-4


def check_random_length(n: int) -> None:
    """TID-4: the random part is 16 to 64 bytes."""
    if n < MIN_RANDOM:
        raise ProtocolError(
            "TID_SHORT_RANDOM",
            f"the random part is {n} bytes; at least {MIN_RANDOM} are required (TID-4)",
        )
    if n > MAX_RANDOM:
        raise ProtocolError(
            "TID_LONG_RANDOM",
            f"the random part is {n} bytes; at most {MAX_RANDOM} are allowed (TID-4)",
        )


def decode_tid_bytes(data: bytes) -> tuple[str, bytes]:
    """Decodes a binary Thread ID; returns (variant name, random part).

    TID-1 fixes the order of the checks, and the first failing check names the error code. The
    order matters: for example `02 56 ...` (version 2 AND an unknown variant) must be reported as
    TID_UNKNOWN_VERSION, because the version is checked first.
    """
    # 1. read the version uvarint (TID-5)
    version, pos = read_uvarint(data, 0)
    # 2. check the version (TID-2)
    if version != TID_VERSION:
        raise ProtocolError("TID_UNKNOWN_VERSION", f"version {version}; only 1 is defined")
    # 3. read the variant uvarint (TID-5)
    variant, pos = read_uvarint(data, pos)
    # 4. check the variant (TID-3)
    if variant not in VARIANTS:
        raise ProtocolError("TID_UNKNOWN_VARIANT", f"variant {variant:#x} is not 0x55 or 0x70")
    # 5. check the length of the random part: every byte after the second uvarint (TID-4)
    random = data[pos:]
    check_random_length(len(random))
    return VARIANTS[variant], random


def canonical_text(data: bytes) -> str:
    """TID-6: `b` followed by base32 lower case, without padding.

    Encoding is the easy direction, so the standard library is fine here; it is decoding that
    needs care (see below).
    """
    return "b" + base64.b32encode(data).decode("ascii").lower().rstrip("=")


def tid_output(variant: str, random: bytes) -> dict:
    """The output object of the three tid.* operations (vectors/README.md, "Operations").

    Exactly these four fields: `bytes` (hex of the binary TID), `random` (hex), `text` (the
    canonical form, whatever base the input used) and `variant`. Hex is lower case, because the
    harness compares strings exactly.
    """
    data = bytes([TID_VERSION]) + write_uvarint(VARIANT_CODES[variant]) + random
    return {
        "bytes": data.hex(),
        "random": random.hex(),
        "text": canonical_text(data),
        "variant": variant,
    }


# --------------------------------------------------------------------------------------------
# Multibase (TID-7)
# --------------------------------------------------------------------------------------------
#
# A multibase string is one prefix character naming a base, then the data in that base. TID-7
# accepts fifteen bases (since spec 0.2.0) in two families, each decoded by one function below:
#
#   1. the RFC 4648 bases: base16, the base32 and base32hex variants, the base64 and base64url
#      variants. Every character carries a fixed number of bits; the bits are concatenated.
#   2. base58btc, defined in TID-7 itself: the whole string is one number; each leading zero
#      byte is written as one leading "1".
#
# TID-7 requires rejecting (with TID_BAD_MULTIBASE) an empty string, any other prefix (the other
# multibases, such as base2, base36, base45, base256emoji and the identity base NUL, included)
# and any character that is not valid for the base. TID-9 adds that only the canonical text of
# the bytes is accepted. Decoding strictly gives exactly that:
#
#   * Case. Each prefix has one alphabet with one case: an upper-case letter after `b`, or a
#     lower-case one after `B`, is not in the alphabet and is rejected.
#   * Trailing bits and padding. Unused bits at the end must be zero, a base with padding must
#     carry exactly the padding RFC 4648 prescribes (and only at the end), and a base without
#     padding must carry none.
#
# Why not base64.b32decode and friends? They are lenient in ways a conformance example should not
# be: b64decode silently drops characters outside the alphabet unless validate=True, and none of
# them checks the trailing bits. Writing the decoders out also shows exactly which inputs are
# rejected and why.

B32 = "abcdefghijklmnopqrstuvwxyz234567"
B32HEX = "0123456789abcdefghijklmnopqrstuv"
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
B58BTC = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

def digit_values(text: str, alphabet: str, base_name: str) -> list[int]:
    """Maps each character to its value in the alphabet; any other character is an error.

    This lookup is the whole of "reject characters outside the alphabet". (Do not be tempted by
    int(text) or str.isdigit(): they accept non-ASCII digits such as "٣".)
    """
    index = {c: i for i, c in enumerate(alphabet)}
    values = []
    for position, c in enumerate(text):
        if c not in index:
            raise bad_multibase(
                f"character {c!r} at position {position + 1} is not valid in {base_name}"
            )
        values.append(index[c])
    return values


# --- Family 1: the RFC 4648 bases -----------------------------------------------------


def decode_bits(
    text: str, alphabet: str, bits: int, padded: bool, base_name: str
) -> bytes:
    """Decodes a base where each character carries `bits` bits (4, 5 or 6).

    The characters' bits are concatenated, most significant first, and cut into bytes. A string
    of n bytes has ceil(8n / bits) characters; any other length is invalid (e.g. 1, 3 or 6
    characters of base32). The bits left over after the last whole byte must be zero.

    With padding (base32pad and base64pad variants), the encoder fills the last block with "="
    up to 8 characters (base32) or 4 (base64). We accept exactly that: the total length is a
    multiple of the block, and the number of "=" is what the data length calls for. An "=" in
    the middle is rejected by the alphabet check, since "=" is not in the alphabet.
    """
    if padded:
        block = 8 if bits == 5 else 4  # base32: 8 characters per block; base64: 4
        data = text.rstrip("=")
        pad = len(text) - len(data)
        if len(text) % block != 0 or pad != (-len(data)) % block:
            raise bad_multibase(f"{base_name}: wrong padding or length")
    else:
        data = text

    values = digit_values(data, alphabet, base_name)

    total_bits = len(values) * bits
    n_bytes = total_bits // 8
    # The length must be one an encoder can produce for n_bytes bytes.
    if len(values) != -(-n_bytes * 8 // bits):  # ceil(n_bytes * 8 / bits)
        raise bad_multibase(f"{base_name}: {len(values)} characters is not a valid length")

    number = 0
    for v in values:
        number = (number << bits) | v
    spare = total_bits - n_bytes * 8  # bits after the last whole byte
    if number & ((1 << spare) - 1):
        raise bad_multibase(f"{base_name}: the unused trailing bits are not zero")
    return (number >> spare).to_bytes(n_bytes, "big")


# --- Family 2: base58btc --------------------------------------


def decode_big_number(text: str, alphabet: str, base_name: str) -> bytes:
    """Decodes a base where the whole string is one number written in len(alphabet) digits.

    A number has no leading zeros, so zero *bytes* at the start of the data would be lost. The
    convention (TID-7, and the Bitcoin base58 it comes from) writes each leading zero byte as
    one leading "zero digit", "1". Decoding reverses that: count the leading zero digits, then
    decode the rest as a number.

        base58btc "11"   -> 00 00        (two zero bytes, number 0)
        base58btc "112"  -> 00 00 01
        base58btc "15Q"  -> 00 ff
    """
    values = digit_values(text, alphabet, base_name)
    zeros = 0
    while zeros < len(values) and values[zeros] == 0:
        zeros += 1
    number = 0
    for v in values:
        number = number * len(alphabet) + v
    # The number's own big-endian bytes, with no leading zero byte (and none at all for 0).
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return bytes(zeros) + body


# --- The prefix table (TID-7) -------------------------------------------------------------------
#
# Each entry: prefix -> (name, decoder of the text after the prefix).


def _bits(alphabet: str, bits: int, padded: bool, name: str):
    def decode(text: str) -> bytes:
        return decode_bits(text, alphabet, bits, padded, name)

    return decode


def _big(alphabet: str, name: str):
    def decode(text: str) -> bytes:
        return decode_big_number(text, alphabet, name)

    return decode


MULTIBASES = {
    "f": ("base16", _bits("0123456789abcdef", 4, False, "base16")),
    "F": ("base16upper", _bits("0123456789ABCDEF", 4, False, "base16upper")),
    "b": ("base32", _bits(B32, 5, False, "base32")),
    "B": ("base32upper", _bits(B32.upper(), 5, False, "base32upper")),
    "c": ("base32pad", _bits(B32, 5, True, "base32pad")),
    "C": ("base32padupper", _bits(B32.upper(), 5, True, "base32padupper")),
    "v": ("base32hex", _bits(B32HEX, 5, False, "base32hex")),
    "V": ("base32hexupper", _bits(B32HEX.upper(), 5, False, "base32hexupper")),
    "t": ("base32hexpad", _bits(B32HEX, 5, True, "base32hexpad")),
    "T": ("base32hexpadupper", _bits(B32HEX.upper(), 5, True, "base32hexpadupper")),
    "z": ("base58btc", _big(B58BTC, "base58btc")),
    "m": ("base64", _bits(B64, 6, False, "base64")),
    "M": ("base64pad", _bits(B64, 6, True, "base64pad")),
    "u": ("base64url", _bits(B64URL, 6, False, "base64url")),
    "U": ("base64urlpad", _bits(B64URL, 6, True, "base64urlpad")),
}


def decode_multibase(text: str) -> bytes:
    """Decodes a multibase string whose base is one of TID-7; returns the data bytes.

    The identity base (prefix NUL), base36, base45, base256emoji and the other multibases outside
    TID-7's list are rejected like any unknown prefix.
    """
    if text == "":
        raise bad_multibase("the text is empty")
    prefix, rest = text[0], text[1:]  # a Python character is a code point, so 🚀 is one
    if prefix not in MULTIBASES:
        raise bad_multibase(f"prefix {prefix!r} is not one of the accepted multibases (TID-7)")
    _name, decode = MULTIBASES[prefix]
    return decode(rest)


# --------------------------------------------------------------------------------------------
# The three vector operations (vectors/README.md, "Operations")
# --------------------------------------------------------------------------------------------
#
# Each takes the merged inputs of a case (a dict) and returns the output object, or raises
# ProtocolError. An input that is missing or of the wrong type is BAD_REQUEST (HP-13): that is the
# harness's (or the vector file's) fault, not a Thread ID error, and no vector ever expects it.

HEX = re.compile(r"(?:[0-9a-f]{2})*")  # lower-case hex, whole bytes ("Field types")


def text_input(inputs: dict, name: str) -> str:
    value = inputs.get(name)
    if not isinstance(value, str):
        raise bad_request(f"input {name!r} must be a string")
    return value


def hex_input(inputs: dict, name: str) -> bytes:
    value = text_input(inputs, name)
    # Not bytes.fromhex alone: it also accepts spaces and upper case.
    if not HEX.fullmatch(value):
        raise bad_request(f"input {name!r} must be lower-case hex")
    return bytes.fromhex(value)


def op_tid_decode(inputs: dict) -> dict:
    """tid.decode: a text form in any accepted multibase (TID-7), then TID-1 to TID-5.

    Note that an input the multibase layer accepts can still fail in the binary layer: the text
    "b" decodes to no bytes at all and so fails with TID_BAD_VARINT (tcId 34).
    """
    data = decode_multibase(text_input(inputs, "text"))
    variant, random = decode_tid_bytes(data)
    return tid_output(variant, random)


def op_tid_decode_bytes(inputs: dict) -> dict:
    """tid.decodeBytes: the binary form, TID-1 to TID-5."""
    variant, random = decode_tid_bytes(hex_input(inputs, "bytes"))
    return tid_output(variant, random)


def op_tid_encode(inputs: dict) -> dict:
    """tid.encode: build a Thread ID from a variant name and a random part.

    A random part outside 16..64 bytes fails as in TID-4, with the same codes a decoder uses.
    """
    variant = text_input(inputs, "variant")
    if variant not in VARIANT_CODES:
        raise bad_request(f"unknown variant {variant!r}; expected 'raw' or 'access-controlled'")
    random = hex_input(inputs, "random")
    check_random_length(len(random))
    return tid_output(variant, random)


OPERATION_TABLE = {
    "tid.decode": op_tid_decode,
    "tid.decodeBytes": op_tid_decode_bytes,
    "tid.encode": op_tid_encode,
}
assert sorted(OPERATION_TABLE) == sorted(OPERATIONS)


# --------------------------------------------------------------------------------------------
# The protocol methods (spec/harness-protocol.md)
# --------------------------------------------------------------------------------------------


def method_hello(params: dict) -> dict:
    """HP-14: the first request of every adapter process. Refuse any protocol but ours (HP-15)."""
    protocol = params.get("protocol")
    if type(protocol) is not int:  # not isinstance: True is an int in Python
        raise bad_request("params.protocol must be an integer")
    if protocol != PROTOCOL:
        raise bad_request(
            f"this adapter speaks threads-harness protocol {PROTOCOL}, not {protocol}"
        )
    log(f"hello from {params.get('harness')!r}")
    return {
        "protocol": PROTOCOL,
        "implementation": IMPLEMENTATION,
        "version": VERSION,
        "capabilities": {"operations": list(OPERATIONS), "scenarios": list(SCENARIOS)},
    }


def method_vector(params: dict) -> dict:
    """HP-24: run one vector operation on the case's merged inputs."""
    operation = params.get("operation")
    inputs = params.get("inputs")
    if not isinstance(operation, str) or not isinstance(inputs, dict):
        raise bad_request("params must be {operation: string, inputs: object}")
    if operation not in OPERATION_TABLE:
        raise ProtocolError("UNSUPPORTED", f"operation {operation} is not implemented")
    # HP-7: an input whose value is null means "absent". Dropping the nulls here lets every
    # operation treat the two alike.
    inputs = {k: v for k, v in inputs.items() if v is not None}
    return OPERATION_TABLE[operation](inputs)


def method_shutdown(params: dict) -> dict:
    """HP-42: reply {} and exit 0; the loop in main() stops after writing this reply."""
    return {}


METHODS = {
    "hello": method_hello,
    "vector": method_vector,
    "shutdown": method_shutdown,
}
# Not here: the node methods (node.create, thread.create, log.append, invite.export,
# invite.accept, node.deliver, node.collect, node.heads, node.read, node.stop). An adapter that
# implements them lists "nodes" in SCENARIOS; this one answers them with UNSUPPORTED.


# --------------------------------------------------------------------------------------------
# The protocol loop: one request per line in, one reply per line out (HP-3 to HP-6)
# --------------------------------------------------------------------------------------------

MAX_ID = 2**53 - 1


def log(message: str) -> None:
    """Logs go to standard error (HP-4): standard output carries replies and nothing else."""
    print(f"[{IMPLEMENTATION}] {message}", file=sys.stderr, flush=True)


def write_reply(reply: dict) -> None:
    """Writes one reply line and flushes it at once (HP-5).

    json.dumps escapes newlines inside strings, so the reply is always one line (HP-3); and with
    ensure_ascii (the default) it is plain ASCII, so even a string holding a lone surrogate
    (possible in JSON input) cannot break the UTF-8 encoding.
    """
    line = json.dumps(reply, separators=(",", ":")) + "\n"
    sys.stdout.buffer.write(line.encode("utf-8"))
    sys.stdout.buffer.flush()


def handle_line(raw: bytes) -> tuple[dict, bool]:
    """Turns one request line into (reply, stop?). Never raises: every request gets a reply."""
    # 1. Parse. A line that is not a request gets BAD_REQUEST with the id we could find, or null
    #    (HP-11). The harness never sends such lines; this is for people typing requests by hand.
    try:
        request = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        return {"id": None, "error": {"code": "BAD_REQUEST", "message": f"not JSON: {e}"}}, False
    request_id = request.get("id") if isinstance(request, dict) else None
    if type(request_id) is not int or not 0 <= request_id <= MAX_ID:
        request_id = None
    method = request.get("method") if isinstance(request, dict) else None
    params = request.get("params") if isinstance(request, dict) else None
    if request_id is None or not isinstance(method, str) or not isinstance(params, dict):
        return {
            "id": request_id,
            "error": {
                "code": "BAD_REQUEST",
                "message": "a request is {id: uint, method: string, params: object}",
            },
        }, False

    # 2. Dispatch. Unknown method first (UNSUPPORTED), then the method checks its params
    #    (BAD_REQUEST) and does its work (HP-13).
    try:
        if method not in METHODS:
            raise ProtocolError("UNSUPPORTED", f"method {method} is not implemented")
        result = METHODS[method](params)
        return {"id": request_id, "result": result}, method == "shutdown"
    except ProtocolError as e:
        return {"id": request_id, "error": {"code": e.code, "message": e.message}}, False
    except Exception as e:  # a bug in this adapter: report it and carry on (HP-23)
        log(traceback.format_exc())
        return {
            "id": request_id,
            "error": {"code": "INTERNAL", "message": f"{type(e).__name__}: {e}"},
        }, False


def main() -> int:
    log(f"{IMPLEMENTATION} {VERSION}, threads-harness protocol {PROTOCOL}")
    # Read bytes, not text: we decode each line as strict UTF-8 ourselves, whatever the locale.
    for raw in sys.stdin.buffer:
        raw = raw.rstrip(b"\r\n")
        if not raw.strip():
            continue  # tolerate blank lines (by hand); the harness never sends them
        reply, stop = handle_line(raw)
        write_reply(reply)
        if stop:
            log("shutdown")
            return 0
    return 0  # end of input also ends the adapter, with status 0 (HP-42)


if __name__ == "__main__":
    sys.exit(main())
