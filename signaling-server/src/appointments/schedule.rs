//! A doctor's weekly schedule turned into bookable slots.
//!
//! The schedule is wall-clock time in the doctor's IANA time zone ("Mondays
//! 09:00 to 12:00, 30-minute slots"), so slots keep their local time across
//! daylight-saving changes and their UTC instants move. Pure: no clock, no
//! storage; the caller says which window it wants.

use clinicall_protocol::appointments::{ProfileDetails, Weekday};
use jiff::Timestamp;
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;

/// Widest window one slot listing may cover, in days: it bounds the work a
/// request can ask for.
pub const MAX_WINDOW_DAYS: i64 = 62;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// Most slots a week may hold (one every five minutes, day and night):
/// bounds the work of expanding a schedule, whatever its blocks overlap.
pub const MAX_WEEKLY_SLOTS: i64 = 7 * 24 * 12;

/// A profile's schedule, checked and ready to expand.
#[derive(Clone, Debug)]
pub struct WeeklySchedule {
    tz: TimeZone,
    slot_ms: i64,
    blocks: Vec<Block>,
}

#[derive(Clone, Copy, Debug)]
struct Block {
    day: jiff::civil::Weekday,
    start: Time,
    end: Time,
}

/// Why a profile's schedule is not usable: the field and the problem.
#[derive(Debug, PartialEq, Eq)]
pub struct ScheduleError {
    /// The field at fault.
    pub field: &'static str,
    /// What is wrong.
    pub problem: String,
}

fn error(field: &'static str, problem: impl Into<String>) -> ScheduleError {
    ScheduleError {
        field,
        problem: problem.into(),
    }
}

/// `HH:MM`, 00:00 to 23:59, or 24:00 for the end of the day.
fn parse_hhmm(s: &str, field: &'static str) -> Result<Time, ScheduleError> {
    let bad = || error(field, format!("{s:?} is not a time of day as HH:MM"));
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let (h, m): (i8, i8) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if (h, m) == (24, 0) {
        return Ok(Time::MAX);
    }
    Time::new(h, m, 0, 0).map_err(|_| bad())
}

fn weekday(day: Weekday) -> jiff::civil::Weekday {
    use jiff::civil::Weekday as J;
    match day {
        Weekday::Monday => J::Monday,
        Weekday::Tuesday => J::Tuesday,
        Weekday::Wednesday => J::Wednesday,
        Weekday::Thursday => J::Thursday,
        Weekday::Friday => J::Friday,
        Weekday::Saturday => J::Saturday,
        Weekday::Sunday => J::Sunday,
    }
}

impl WeeklySchedule {
    /// Checks the time zone and the blocks of a profile.
    pub fn parse(details: &ProfileDetails) -> Result<Self, ScheduleError> {
        let tz = TimeZone::get(&details.time_zone).map_err(|_| {
            error(
                "time_zone",
                format!(
                    "{:?} is not an IANA time zone name (like Europe/Berlin)",
                    details.time_zone
                ),
            )
        })?;
        let mut blocks = Vec::with_capacity(details.schedule.len());
        for block in &details.schedule {
            let start = parse_hhmm(&block.start, "schedule")?;
            let end = parse_hhmm(&block.end, "schedule")?;
            if start >= end {
                return Err(error(
                    "schedule",
                    format!("block {}-{} ends before it starts", block.start, block.end),
                ));
            }
            blocks.push(Block {
                day: weekday(block.day),
                start,
                end,
            });
        }
        let slot_ms = i64::from(details.slot_minutes).max(1) * 60_000;
        let weekly: i64 = blocks
            .iter()
            .map(|b| {
                let length = b.start.until(b.end).map_or(0, |span| {
                    span.total(jiff::Unit::Millisecond).unwrap_or(0.0) as i64
                });
                length / slot_ms
            })
            .sum();
        if weekly > MAX_WEEKLY_SLOTS {
            return Err(error(
                "schedule",
                format!("holds {weekly} slots a week, more than {MAX_WEEKLY_SLOTS}"),
            ));
        }
        Ok(Self {
            tz,
            slot_ms,
            blocks,
        })
    }

    /// Slots (start, end in Unix ms) that start in `[from_ms, to_ms)`,
    /// earliest first, without duplicates. The window is cut to
    /// [`MAX_WINDOW_DAYS`].
    pub fn slots(&self, from_ms: i64, to_ms: i64) -> Vec<(i64, i64)> {
        let to_ms = to_ms.min(from_ms.saturating_add(MAX_WINDOW_DAYS * DAY_MS));
        let (Ok(from), Ok(to)) = (
            Timestamp::from_millisecond(from_ms),
            Timestamp::from_millisecond(to_ms),
        ) else {
            return Vec::new();
        };
        if from >= to || self.blocks.is_empty() {
            return Vec::new();
        }
        // Local dates that can hold a slot starting in the window; a day
        // of margin on both sides covers any UTC offset.
        let first = self.tz.to_datetime(from).date().yesterday();
        let last = self.tz.to_datetime(to).date().tomorrow();
        let (Ok(mut date), Ok(last)) = (first, last) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        while date <= last {
            self.slots_on(date, &mut out);
            match date.tomorrow() {
                Ok(next) => date = next,
                Err(_) => break,
            }
        }
        out.retain(|(start, _)| (from_ms..to_ms).contains(start));
        out.sort_unstable();
        out.dedup();
        out
    }

    fn slots_on(&self, date: Date, out: &mut Vec<(i64, i64)>) {
        for block in self.blocks.iter().filter(|b| b.day == date.weekday()) {
            let Ok(block_start) = self
                .tz
                .to_ambiguous_timestamp(date.to_datetime(block.start))
                .compatible()
            else {
                continue;
            };
            // Time::MAX stands for 24:00: the block runs to the next midnight.
            let end_dt = if block.end == Time::MAX {
                date.tomorrow().map(|d| d.to_datetime(Time::MIN))
            } else {
                Ok(date.to_datetime(block.end))
            };
            let Some(block_end) = end_dt
                .ok()
                .and_then(|dt| self.tz.to_ambiguous_timestamp(dt).compatible().ok())
            else {
                continue;
            };
            let (mut start, end) = (block_start.as_millisecond(), block_end.as_millisecond());
            while start + self.slot_ms <= end {
                out.push((start, start + self.slot_ms));
                start += self.slot_ms;
            }
        }
    }

    /// The slot that starts exactly at `start_ms`, if there is one.
    pub fn slot_at(&self, start_ms: i64) -> Option<(i64, i64)> {
        self.slots(start_ms, start_ms.saturating_add(1))
            .into_iter()
            .next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clinicall_protocol::appointments::ScheduleBlock;

    fn details(tz: &str, slot_minutes: u16, blocks: &[(Weekday, &str, &str)]) -> ProfileDetails {
        ProfileDetails {
            specialization: String::new(),
            qualification: String::new(),
            years_of_experience: 0,
            bio: String::new(),
            time_zone: tz.into(),
            slot_minutes,
            schedule: blocks
                .iter()
                .map(|(day, start, end)| ScheduleBlock {
                    day: *day,
                    start: (*start).into(),
                    end: (*end).into(),
                })
                .collect(),
        }
    }

    fn ms(rfc3339: &str) -> i64 {
        rfc3339.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn slots_follow_local_time_across_daylight_saving() {
        let s = WeeklySchedule::parse(&details(
            "Europe/Berlin",
            30,
            &[(Weekday::Monday, "09:00", "10:00")],
        ))
        .unwrap();
        // Monday 2026-03-23 is CET (+01:00); Monday 2026-03-30 is CEST (+02:00).
        let slots = s.slots(ms("2026-03-22T00:00:00Z"), ms("2026-04-01T00:00:00Z"));
        assert_eq!(
            slots,
            vec![
                (ms("2026-03-23T08:00:00Z"), ms("2026-03-23T08:30:00Z")),
                (ms("2026-03-23T08:30:00Z"), ms("2026-03-23T09:00:00Z")),
                (ms("2026-03-30T07:00:00Z"), ms("2026-03-30T07:30:00Z")),
                (ms("2026-03-30T07:30:00Z"), ms("2026-03-30T08:00:00Z")),
            ]
        );
        assert_eq!(
            s.slot_at(ms("2026-03-30T07:30:00Z")),
            Some((ms("2026-03-30T07:30:00Z"), ms("2026-03-30T08:00:00Z")))
        );
        // Off the grid, and the old UTC time after the change.
        assert_eq!(s.slot_at(ms("2026-03-30T07:10:00Z")), None);
        assert_eq!(s.slot_at(ms("2026-03-30T08:00:00Z")), None);
    }

    #[test]
    fn a_slot_that_does_not_fit_the_block_is_left_out_and_24_00_ends_the_day() {
        let s = WeeklySchedule::parse(&details(
            "UTC",
            45,
            &[
                (Weekday::Tuesday, "09:00", "10:00"),
                (Weekday::Tuesday, "23:00", "24:00"),
            ],
        ))
        .unwrap();
        // 2026-12-01 is a Tuesday.
        let slots = s.slots(ms("2026-12-01T00:00:00Z"), ms("2026-12-02T00:00:00Z"));
        assert_eq!(
            slots,
            vec![
                (ms("2026-12-01T09:00:00Z"), ms("2026-12-01T09:45:00Z")),
                (ms("2026-12-01T23:00:00Z"), ms("2026-12-01T23:45:00Z")),
            ]
        );
    }

    #[test]
    fn bad_time_zones_and_times_are_refused() {
        let err = WeeklySchedule::parse(&details("Mars/Olympus", 30, &[])).unwrap_err();
        assert_eq!(err.field, "time_zone");
        for (start, end) in [("9:00", "10:00"), ("10:00", "09:00"), ("25:00", "26:00")] {
            let err = WeeklySchedule::parse(&details("UTC", 30, &[(Weekday::Friday, start, end)]))
                .unwrap_err();
            assert_eq!(err.field, "schedule", "{start}-{end}");
        }
    }

    #[test]
    fn overlapping_blocks_cannot_multiply_the_slots() {
        let all_day = [(Weekday::Monday, "00:00", "24:00")];
        assert!(WeeklySchedule::parse(&details("UTC", 5, &all_day)).is_ok());
        let twice: Vec<_> = (0..8).map(|_| all_day[0]).collect();
        let err = WeeklySchedule::parse(&details("UTC", 5, &twice)).unwrap_err();
        assert_eq!(err.field, "schedule");
    }

    #[test]
    fn windows_are_capped() {
        let s = WeeklySchedule::parse(&details("UTC", 60, &[(Weekday::Monday, "09:00", "10:00")]))
            .unwrap();
        let year = s.slots(ms("2026-01-01T00:00:00Z"), ms("2027-01-01T00:00:00Z"));
        // At most MAX_WINDOW_DAYS of Mondays.
        assert!(year.len() <= 9, "{}", year.len());
        assert!(!year.is_empty());
        assert!(s.slots(10, 5).is_empty());
    }
}
