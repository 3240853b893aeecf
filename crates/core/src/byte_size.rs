//! Sizes for people: `1.2 MB`, `9.8 GB` (decimal units, as browsers and
//! operating systems show disk space).

/// `bytes` in the largest decimal unit that keeps a whole number in front:
/// `512 B`, `1.2 kB`, `98.4 MB`, `12.0 GB`.
pub fn byte_size(bytes: f64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if !bytes.is_finite() || bytes < 1000.0 {
        return format!("{} B", bytes.max(0.0).round());
    }
    let mut value = bytes;
    let mut unit = "B";
    for next in UNITS {
        // Rounded to one decimal, 999.96 kB would read "1000.0 kB".
        if value < 999.95 {
            break;
        }
        value /= 1000.0;
        unit = next;
    }
    format!("{value:.1} {unit}")
}

#[cfg(test)]
mod tests {
    use super::byte_size;

    #[test]
    fn sizes_read_as_people_expect() {
        assert_eq!(byte_size(0.0), "0 B");
        assert_eq!(byte_size(512.0), "512 B");
        assert_eq!(byte_size(1_234.0), "1.2 kB");
        assert_eq!(byte_size(999_960.0), "1.0 MB");
        assert_eq!(byte_size(98_362_432.0), "98.4 MB");
        assert_eq!(byte_size(12e9), "12.0 GB");
        assert_eq!(byte_size(3.5e15), "3500.0 TB");
        assert_eq!(byte_size(-1.0), "0 B");
        assert_eq!(byte_size(f64::NAN), "0 B");
    }
}
