//! `tdate` (RFC 8949 tag 0, an RFC 3339 date-time) as seconds since the epoch, without a calendar dependency.

use ciborium::Value;

/// Seconds since the epoch of a `tdate` (`#6.0(tstr)`, or the bare text), or of a tag-1 epoch number.
pub fn parse_tdate(v: &Value) -> Option<i64> {
    match v {
        Value::Tag(0, inner) | Value::Tag(1004, inner) => parse_tdate(inner),
        Value::Tag(1, inner) => match inner.as_ref() {
            Value::Integer(i) => i64::try_from(*i).ok(),
            Value::Float(f) if f.is_finite() => Some(*f as i64),
            _ => None,
        },
        Value::Text(t) => parse_rfc3339(t),
        _ => None,
    }
}

fn digits(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
fn parse_rfc3339(s: &str) -> Option<i64> {
    if s.len() > 40 || !s.is_ascii() {
        return None;
    }
    let (date, time) = match s.find(['T', 't']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mut d = date.split('-');
    let (y, m, day) = (digits(d.next()?)?, digits(d.next()?)?, digits(d.next()?)?);
    if d.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let mut secs = days_from_civil(y, m, day) * 86_400;
    if let Some(t) = time {
        let (clock, offset) = if let Some(c) = t.strip_suffix(['Z', 'z']) {
            (c, 0)
        } else {
            let i = t.rfind(['+', '-'])?;
            let (c, o) = t.split_at(i);
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let (oh, om) = o[1..].split_once(':')?;
            (c, sign * (digits(oh)? * 3600 + digits(om)? * 60))
        };
        let clock = clock.split('.').next()?;
        let mut c = clock.split(':');
        let (h, mi, se) = (digits(c.next()?)?, digits(c.next()?)?, digits(c.next()?)?);
        if c.next().is_some() || h > 23 || mi > 59 || se > 60 {
            return None;
        }
        secs += h * 3600 + mi * 60 + se - offset;
    }
    Some(secs)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days-from-civil).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        let t = |s: &str| parse_tdate(&Value::Tag(0, Box::new(Value::Text(s.into()))));
        assert_eq!(t("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(t("2000-02-29T00:00:00.123Z"), Some(951_782_400));
        assert_eq!(t("2024-12-31T23:59:59Z"), Some(1_735_689_599));
        assert_eq!(t("2025-01-01T01:00:00+01:00"), Some(1_735_689_600));
        assert_eq!(t("2024-12-31"), Some(1_735_603_200));
        assert_eq!(t("2024-13-01T00:00:00Z"), None);
        assert_eq!(t("garbage"), None);
        assert_eq!(t("2024-01-01T00:00:00"), None);
        assert_eq!(parse_tdate(&Value::Tag(1, Box::new(Value::Integer(5.into())))), Some(5));
        assert_eq!(parse_tdate(&Value::Bool(true)), None);
    }
}
