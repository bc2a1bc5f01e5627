//! Output file names for rotation (`-C`, `-G`): a sequence number before the extension, or the
//! time of the file's first frame where the name has `%Y %m %d %H %M %S`.

/// The name of output file number `index` (0 is the name as given) whose first frame has
/// timestamp `ts_nanos`. A name with the time in it gets a number only when `by_size` (several
/// files can then start in the same second).
pub fn file_name(base: &str, index: u32, ts_nanos: u64, by_size: bool) -> String {
    if base.contains('%') {
        let name = strftime(base, ts_nanos / 1_000_000_000);
        return if index == 0 || !by_size { name } else { numbered(&name, index) };
    }
    if index == 0 {
        base.to_string()
    } else {
        numbered(base, index)
    }
}

/// `x.pcapng` → `x.N.pcapng`; `x` → `x.N`.
fn numbered(name: &str, index: u32) -> String {
    let slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[slash..].rfind('.') {
        Some(dot) if dot > 0 => format!("{}.{index}{}", &name[..slash + dot], &name[slash + dot..]),
        _ => format!("{name}.{index}"),
    }
}

/// Replaces `%Y %m %d %H %M %S %%` by the UTC time `secs` since the Unix epoch.
fn strftime(pattern: &str, secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Y') => out.push_str(&format!("{y:04}")),
            Some('m') => out.push_str(&format!("{m:02}")),
            Some('d') => out.push_str(&format!("{d:02}")),
            Some('H') => out.push_str(&format!("{:02}", rem / 3600)),
            Some('M') => out.push_str(&format!("{:02}", rem / 60 % 60)),
            Some('S') => out.push_str(&format!("{:02}", rem % 60)),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

/// Year, month and day of day `z` since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(file_name("/var/cap/x.pcapng", 0, 0, true), "/var/cap/x.pcapng");
        assert_eq!(file_name("/var/cap/x.pcapng", 2, 0, false), "/var/cap/x.2.pcapng");
        assert_eq!(file_name("dir.d/out", 1, 0, true), "dir.d/out.1");
        // 2026-11-21 18:30:05 UTC.
        let t = 1_795_285_805u64 * 1_000_000_000;
        assert_eq!(file_name("cap-%Y%m%d-%H%M%S.pcap", 3, t, false), "cap-20261121-183005.pcap");
        assert_eq!(file_name("cap-%H%M%S.pcap", 3, t, true), "cap-183005.3.pcap");
        assert_eq!(file_name("%Y/%%x", 0, 0, false), "1970/%x");
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
