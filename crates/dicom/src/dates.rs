//! Shifting dates by a per-person offset (Retain Longitudinal Temporal
//! Information with Modified Dates): every date of a person moves by the same
//! number of days, so intervals between studies survive to the day, while the
//! calendar dates do not.

use chrono::{Days, NaiveDate};

/// Why a value could not be shifted; the attribute is then emptied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unshiftable;

fn shift_day(date: NaiveDate, offset_days: i32) -> Result<NaiveDate, Unshiftable> {
    let days = Days::new(u64::from(offset_days.unsigned_abs()));
    if offset_days >= 0 {
        date.checked_add_days(days)
    } else {
        date.checked_sub_days(days)
    }
    .ok_or(Unshiftable)
}

/// Shifts a DA value (`YYYYMMDD`, possibly multi-valued with `\`). A value of
/// another form (a range, a year only) cannot keep its meaning and is refused.
pub fn shift_da(value: &str, offset_days: i32) -> Result<String, Unshiftable> {
    let shifted: Result<Vec<String>, Unshiftable> = value
        .trim_end_matches(['\0', ' '])
        .split('\\')
        .map(|v| {
            let v = v.trim();
            if v.len() != 8 || !v.bytes().all(|c| c.is_ascii_digit()) {
                return Err(Unshiftable);
            }
            let date = NaiveDate::parse_from_str(v, "%Y%m%d").map_err(|_| Unshiftable)?;
            Ok(shift_day(date, offset_days)?.format("%Y%m%d").to_string())
        })
        .collect();
    Ok(shifted?.join("\\"))
}

/// Shifts a DT value (`YYYYMMDD[HH[MM[SS[.F]]]][&ZZXX]`): the date part
/// moves, the time of day and offset stay. A DT of year or month precision
/// cannot be shifted by days and is refused.
pub fn shift_dt(value: &str, offset_days: i32) -> Result<String, Unshiftable> {
    let shifted: Result<Vec<String>, Unshiftable> = value
        .trim_end_matches(['\0', ' '])
        .split('\\')
        .map(|v| {
            let v = v.trim();
            if v.len() < 8 || !v.is_char_boundary(8) {
                return Err(Unshiftable);
            }
            let (date, rest) = v.split_at(8);
            Ok(format!("{}{rest}", shift_da(date, offset_days)?))
        })
        .collect();
    Ok(shifted?.join("\\"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_move_by_whole_days_and_odd_forms_are_refused() {
        assert_eq!(shift_da("20040119", -30).unwrap(), "20031220");
        assert_eq!(
            shift_da("20040119\\20040301 ", 10).unwrap(),
            "20040129\\20040311"
        );
        assert_eq!(
            shift_dt("20040119072730.123&+0100", -1).unwrap(),
            "20040118072730.123&+0100"
        );
        assert_eq!(shift_dt("20040119", 1).unwrap(), "20040120");
        for bad in [
            "2004",
            "200401",
            "20041301",
            "2004-01-19",
            "20040101-20040201",
            "",
        ] {
            assert_eq!(shift_da(bad, 1), Err(Unshiftable), "{bad}");
        }
        assert_eq!(shift_dt("2004", 1), Err(Unshiftable));
        assert_eq!(shift_dt("2004011é9", 1), Err(Unshiftable));
    }
}
