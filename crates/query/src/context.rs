//! Named address groups (`group:` keys) and value maps (`map:` keys), as sFlow-RT's
//! `/group/{name}` and `/map/{name}` define them.
use std::collections::HashMap;
use std::net::IpAddr;

/// Address groups and value maps, by name.
#[derive(Debug, Clone, Default)]
pub struct Context {
    groups: HashMap<String, Vec<(IpAddr, u8, String)>>,
    maps: HashMap<String, HashMap<String, String>>,
}

/// Parses `10.0.0.0/8` (or a bare address) into an address and a prefix length.
pub fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (a, bits) = match s.split_once('/') {
        Some((a, b)) => (a, Some(b.parse::<u8>().ok()?)),
        None => (s, None),
    };
    let addr: IpAddr = a.trim().parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let bits = bits.unwrap_or(max);
    (bits <= max).then_some((addr, bits))
}

/// `addr` with all but its first `bits` bits cleared.
pub fn masked(addr: IpAddr, bits: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let m = if bits == 0 { 0 } else { u32::MAX << (32 - u32::from(bits.min(32))) };
            IpAddr::from((u32::from(a) & m).to_be_bytes())
        }
        IpAddr::V6(a) => {
            let m = if bits == 0 { 0 } else { u128::MAX << (128 - u32::from(bits.min(128))) };
            IpAddr::from((u128::from(a) & m).to_be_bytes())
        }
    }
}

/// Named sets, each label to its entries (address prefixes of a group, values of a map).
pub type Sets = std::collections::BTreeMap<String, std::collections::BTreeMap<String, Vec<String>>>;

impl Context {
    /// An empty context.
    pub fn new() -> Context {
        Context::default()
    }

    /// The context of these address groups and value maps; a prefix that does not parse is
    /// the error, naming its group and label.
    pub fn from_sets(groups: &Sets, maps: &Sets) -> Result<Context, String> {
        let mut ctx = Context::new();
        for (name, labels) in groups {
            for (label, prefixes) in labels {
                let p: Vec<&str> = prefixes.iter().map(String::as_str).collect();
                ctx.add_group(name, label, &p)
                    .map_err(|e| format!("group `{name}`, label `{label}`: {e}"))?;
            }
            if labels.is_empty() {
                ctx.add_group(name, "", &[]).map_err(|e| format!("group `{name}`: {e}"))?;
            }
        }
        for (name, labels) in maps {
            for (label, values) in labels {
                let v: Vec<&str> = values.iter().map(String::as_str).collect();
                ctx.add_map(name, label, &v);
            }
            if labels.is_empty() {
                ctx.add_map(name, "", &[]);
            }
        }
        Ok(ctx)
    }

    /// Adds `prefixes` under `label` to the group set `name`; a prefix that does not parse is
    /// returned as the error.
    pub fn add_group(&mut self, name: &str, label: &str, prefixes: &[&str]) -> Result<(), String> {
        let set = self.groups.entry(name.to_string()).or_default();
        for p in prefixes {
            let (a, bits) =
                parse_cidr(p).ok_or_else(|| format!("`{p}` is not an address or prefix like 10.0.0.0/8"))?;
            set.push((masked(a, bits), bits, label.to_string()));
        }
        // Longest prefix first, so the first match is the most specific.
        set.sort_by_key(|e| std::cmp::Reverse(e.1));
        Ok(())
    }

    /// Adds `values` under `label` to the map `name`.
    pub fn add_map(&mut self, name: &str, label: &str, values: &[&str]) {
        let map = self.maps.entry(name.to_string()).or_default();
        for v in values {
            map.insert(v.to_string(), label.to_string());
        }
    }

    /// True when a group set of this name exists.
    pub fn has_group(&self, name: &str) -> bool {
        self.groups.contains_key(name)
    }

    /// True when a map of this name exists.
    pub fn has_map(&self, name: &str) -> bool {
        self.maps.contains_key(name)
    }

    /// The label of the most specific prefix of group set `name` holding `addr`.
    pub fn group_label(&self, name: &str, addr: IpAddr) -> Option<&str> {
        self.groups
            .get(name)?
            .iter()
            .find(|(net, bits, _)| same_family(*net, addr) && masked(addr, *bits) == *net)
            .map(|(_, _, l)| l.as_str())
    }

    /// The label map `name` gives `value`.
    pub fn map_label(&self, name: &str, value: &str) -> Option<&str> {
        self.maps.get(name)?.get(value).map(String::as_str)
    }
}

fn same_family(a: IpAddr, b: IpAddr) -> bool {
    a.is_ipv4() == b.is_ipv4()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_and_maps() {
        let mut c = Context::new();
        c.add_group("ddos", "external", &["0.0.0.0/0", "::/0"]).unwrap();
        c.add_group("ddos", "private", &["10.0.0.0/8", "fc00::/7"]).unwrap();
        assert_eq!(c.group_label("ddos", "10.1.2.3".parse().unwrap()), Some("private"));
        assert_eq!(c.group_label("ddos", "8.8.8.8".parse().unwrap()), Some("external"));
        assert_eq!(c.group_label("ddos", "fd00::1".parse().unwrap()), Some("private"));
        assert!(c.add_group("x", "y", &["10.0.0.0/33"]).is_err());
        c.add_map("svc", "web", &["80", "443"]);
        assert_eq!(c.map_label("svc", "443"), Some("web"));
        assert_eq!(c.map_label("svc", "22"), None);
    }
}
