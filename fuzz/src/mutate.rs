//! A small deterministic mutator for the stable smoke: the byte-level moves libFuzzer makes
//! (flips, interesting values, inserts, deletes, copies, splices, dictionary words), driven by a
//! seeded SplitMix64 so a failure reproduces from its iteration number.

/// SplitMix64: tiny, fast, and good enough to pick mutations.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (which must not be 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Words the wire formats are made of, inserted whole.
const DICTIONARY: &[&[u8]] = &[
    b"\"type\"",
    b"\"execute\"",
    b"\"batch\"",
    b"\"sequence\"",
    b"\"describe\"",
    b"\"store_sql\"",
    b"\"close_sql\"",
    b"\"close\"",
    b"\"get_autocommit\"",
    b"\"request\"",
    b"\"hello\"",
    b"\"open_stream\"",
    b"\"open_cursor\"",
    b"\"fetch_cursor\"",
    b"\"step_begin\"",
    b"\"row\"",
    b"\"error\"",
    b"\"integer\"",
    b"\"float\"",
    b"\"blob\"",
    b"\"base64\"",
    b"\"text\"",
    b"\"null\"",
    b"\"value\"",
    b"\"stmt\"",
    b"\"sql\"",
    b"\"sql_id\"",
    b"\"args\"",
    b"\"named_args\"",
    b"\"steps\"",
    b"\"condition\"",
    b"\"baton\"",
    b"\"requests\"",
    b"\"results\"",
    b"9223372036854775807",
    b"-9223372036854775808",
    b"18446744073709551616",
    b"1e308",
    b"-0.0",
    b"NaN",
    b"\"Infinity\"",
    b"\\u0000",
    b"\\ud800",
    b"null",
    b"[]",
    b"{}",
    b"\n",
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
    b"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80",
    b"\x0a\x00",
    b"\x12\x00",
    b"SELECT ?",
    b"BEGIN",
    b"COMMIT",
    b"ROLLBACK",
    b"CREATE TABLE t(x)",
    b"INSERT INTO t VALUES (1)",
];

/// Replaces `data` with a mutant of itself; `other` is a second input to splice from.
pub fn mutate(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8], max_len: usize) {
    for _ in 0..=rng.below(4) {
        mutate_once(rng, data, other);
    }
    data.truncate(max_len);
}

fn mutate_once(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8]) {
    let len = data.len();
    match rng.below(10) {
        0 if len > 0 => {
            let i = rng.below(len);
            data[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            const INTERESTING: [u8; 10] = [0, 1, 0x7f, 0x80, 0xff, b'"', b'\\', b'{', b'}', b'.'];
            let i = rng.below(len);
            data[i] = INTERESTING[rng.below(INTERESTING.len())];
        }
        2 => {
            let i = rng.below(len + 1);
            data.insert(i, rng.next_u64() as u8);
        }
        3 if len > 0 => {
            let start = rng.below(len);
            let end = (start + 1 + rng.below(8)).min(len);
            data.drain(start..end);
        }
        4 if len > 0 => {
            // Duplicate a range in place (repetition finds nesting and length bugs).
            let start = rng.below(len);
            let end = (start + 1 + rng.below(32)).min(len);
            let copy = data[start..end].to_vec();
            let at = rng.below(len + 1);
            data.splice(at..at, copy);
        }
        5 if !other.is_empty() => {
            // Splice: a prefix of this input, the tail of the other.
            let cut = rng.below(len + 1);
            let from = rng.below(other.len());
            data.truncate(cut);
            data.extend_from_slice(&other[from..]);
        }
        6 => {
            let word = DICTIONARY[rng.below(DICTIONARY.len())];
            let i = rng.below(len + 1);
            data.splice(i..i, word.iter().copied());
        }
        7 if len > 0 => {
            data.truncate(rng.below(len));
        }
        8 if len > 0 => {
            // An ASCII digit run: numbers at the edges of every integer width.
            let i = rng.below(len);
            let digits = format!("{}", rng.next_u64() >> rng.below(64));
            data.splice(i..i, digits.bytes());
        }
        _ if len > 1 => {
            let (a, b) = (rng.below(len), rng.below(len));
            data.swap(a, b);
        }
        _ => data.push(rng.next_u64() as u8),
    }
}
