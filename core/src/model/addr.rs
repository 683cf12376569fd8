//! Deterministic names and addresses. Every address is derived from a hash of the object's
//! own identity, never from its position among others, so adding an unrelated object changes
//! no other address (collisions are resolved in the sorted order of identities).

use std::collections::HashSet;
use std::net::Ipv4Addr;

/// FNV-1a, 64 bit: small, stable across platforms and releases (unlike std's hasher).
pub fn fnv64(s: &str) -> u64 {
    fnv64_continue(0xcbf29ce484222325, s.as_bytes())
}

/// FNV-1a over more bytes, from the hash of what came before: `fnv64(a + b)` is
/// `fnv64_continue(fnv64(a), b)`.
pub fn fnv64_continue(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// A well-mixed 64-bit value from a seed and a key (FNV-1a, then the splitmix64 finalizer, so
/// that nearby seeds land far apart), for weighted picks made with `--seed`.
pub fn seeded(seed: u64, key: &str) -> u64 {
    let mut z = fnv64(key) ^ seed.wrapping_mul(0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
    z ^ (z >> 31)
}

/// Hands out unique addresses inside a prefix, starting from each identity's hash.
pub struct AddressPool {
    base: u32,
    size: u32,
    used: HashSet<u32>,
}

impl AddressPool {
    /// `base`/`bits`: e.g. 10.128.0.0/14 for pods, 172.30.0.0/16 for Services.
    pub fn new(base: Ipv4Addr, bits: u32) -> Self {
        AddressPool {
            base: u32::from(base),
            size: 1u32 << (32 - bits),
            used: HashSet::new(),
        }
    }
    pub fn reserve(&mut self, ip: Ipv4Addr) {
        let v = u32::from(ip);
        if v >= self.base && v < self.base + self.size {
            self.used.insert(v - self.base);
        }
    }
    pub fn assign(&mut self, identity: &str) -> Ipv4Addr {
        let mut off = (fnv64(identity) % self.size as u64) as u32;
        for _ in 0..self.size {
            // Skip network-looking (.0) and broadcast-looking (.255) host parts.
            let last = (self.base + off) & 0xff;
            if last != 0 && last != 255 && last != 1 && self.used.insert(off) {
                return Ipv4Addr::from(self.base + off);
            }
            off = (off + 1) % self.size;
        }
        Ipv4Addr::from(self.base)
    }
}

const POD_SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// A Kubernetes-looking suffix of `n` characters (the alphabet Kubernetes uses for names).
pub fn name_suffix(identity: &str, n: usize) -> String {
    let mut h = fnv64(identity);
    let mut s = String::with_capacity(n);
    for _ in 0..n {
        s.push(POD_SUFFIX_ALPHABET[(h % POD_SUFFIX_ALPHABET.len() as u64) as usize] as char);
        h /= POD_SUFFIX_ALPHABET.len() as u64;
        if h == 0 {
            h = fnv64(&format!("{identity}{}", s.len()));
        }
    }
    s
}

/// A pod-template hash as a Deployment's ReplicaSet carries it: 8 to 10 characters.
pub fn template_hash(identity: &str) -> String {
    name_suffix(&format!("rs/{identity}"), 10)
}

/// Address of a host on the internet, as DNS would answer it: stable per name.
pub fn internet_ip(host: &str) -> Ipv4Addr {
    let h = fnv64(host);
    let b = ((h >> 8) & 0xff) as u8;
    let c = ((h >> 16) & 0xff) as u8;
    let d = 2 + ((h >> 24) % 250) as u8;
    Ipv4Addr::new(23, 32 + (b % 32), c, d)
}

/// A request id shaped like the UUIDs Envoy generates, derived from `seed`.
pub fn uuid(seed: &str) -> String {
    uuid_of_hash(fnv64(seed))
}

/// [`uuid`] of a seed whose hash (`fnv64(seed)`) is known.
pub fn uuid_of_hash(a: u64) -> String {
    let b = fnv64_continue(a, b"#");
    // Groups of hex digits, most significant first: 8-4-4-4-12, version 4, variant 10.
    let groups: [(u64, usize); 5] = [
        (a >> 32, 8),
        ((a >> 16) & 0xffff, 4),
        (0x4000 | (a & 0xfff), 4),
        (0x8000 | ((b >> 48) & 0x3fff), 4),
        (b & 0xffff_ffff_ffff, 12),
    ];
    let mut out = String::with_capacity(36);
    for (i, (value, digits)) in groups.into_iter().enumerate() {
        if i > 0 {
            out.push('-');
        }
        for d in (0..digits).rev() {
            let nibble = ((value >> (4 * d)) & 0xf) as u32;
            out.push(char::from_digit(nibble, 16).unwrap_or('0'));
        }
    }
    out
}

/// An ephemeral source port (32768-60999, Linux's default range) derived from a seed's `fnv64` hash.
pub fn ephemeral_port(hash: u64) -> u16 {
    32768 + (hash % 28232) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_is_version_4_and_hashes_the_seed_and_a_suffix() {
        // The former format!-built value for this seed; request ids in snapshots depend on it.
        let (a, b) = (fnv64("seed"), fnv64("seed#"));
        let expected = format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            (a >> 32) as u32,
            (a >> 16) as u16,
            (a & 0xfff) as u16,
            0x8000 | ((b >> 48) as u16 & 0x3fff),
            b & 0xffff_ffff_ffff
        );
        assert_eq!(uuid("seed"), expected);
        assert_eq!(uuid("seed").len(), 36);
    }

    #[test]
    fn pool_addresses_are_unique_and_stable() {
        let mut p = AddressPool::new(Ipv4Addr::new(10, 0, 0, 0), 28);
        let a: Vec<_> = (0..10).map(|i| p.assign(&format!("x{i}"))).collect();
        let mut q = AddressPool::new(Ipv4Addr::new(10, 0, 0, 0), 28);
        let b: Vec<_> = (0..10).map(|i| q.assign(&format!("x{i}"))).collect();
        assert_eq!(a, b);
        let set: HashSet<_> = a.iter().collect();
        assert_eq!(set.len(), 10);
    }

    #[test]
    fn uuid_has_the_uuid_shape() {
        let u = uuid("r1");
        assert_eq!(u.len(), 36);
        assert_eq!(u.matches('-').count(), 4);
        assert_ne!(uuid("r1"), uuid("r2"));
    }
}
