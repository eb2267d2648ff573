//! The one way aisys reads the clock and writes a time into a record.
//!
//! RFC 3339 in UTC with milliseconds and a `Z` (`2026-01-02T03:04:05.678Z`): the form Claude Code
//! writes in its own files (`installedAt`, `lastUpdated`), so records aisys writes beside them
//! read the same and sort as text. In memory a time is a [`jiff::Timestamp`]; the serde modules
//! here write it in that one form and read any RFC 3339. Must not hold a second written form: a
//! record that writes a time goes through here.

use jiff::Timestamp;

/// The written form: UTC, always three fraction digits, `Z`.
const FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.3fZ";

/// Now, to the millisecond: the precision a record keeps, so a time read back from a record
/// equals the one that was written.
pub fn now() -> Timestamp {
    Timestamp::from_millisecond(Timestamp::now().as_millisecond())
        .expect("the clock's own time is within jiff's range")
}

/// A time as a record writes it (`2026-01-02T03:04:05.678Z`).
pub fn rfc3339(at: Timestamp) -> String {
    at.strftime(FORMAT).to_string()
}

/// `#[serde(with)]` for a [`Timestamp`] field: written by [`rfc3339`], read from any RFC 3339.
pub mod serde_rfc3339 {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::rfc3339(*at))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }

    /// The same for an `Option<Timestamp>` field.
    pub mod option {
        use jiff::Timestamp;
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(at: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
            match at {
                Some(at) => super::serialize(at, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
            #[derive(Deserialize)]
            struct Wrapped(#[serde(with = "super")] Timestamp);
            Ok(Option::<Wrapped>::deserialize(d)?.map(|Wrapped(at)| at))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Record {
        #[serde(with = "serde_rfc3339")]
        at: Timestamp,
        #[serde(default, with = "serde_rfc3339::option")]
        maybe: Option<Timestamp>,
    }

    #[test]
    fn a_time_is_written_with_milliseconds_and_z_even_when_they_are_zero() {
        let at: Timestamp = "2026-11-24T10:00:05Z".parse().unwrap();
        assert_eq!(rfc3339(at), "2026-11-24T10:00:05.000Z");
        let at: Timestamp = "2026-11-24T10:00:05.678Z".parse().unwrap();
        let json = serde_json::to_string(&Record {
            at,
            maybe: Some(at),
        })
        .unwrap();
        assert_eq!(
            json,
            r#"{"at":"2026-11-24T10:00:05.678Z","maybe":"2026-11-24T10:00:05.678Z"}"#
        );
        let none = serde_json::to_string(&Record { at, maybe: None }).unwrap();
        assert_eq!(none, r#"{"at":"2026-11-24T10:00:05.678Z","maybe":null}"#);
    }

    #[test]
    fn any_rfc3339_reads_and_a_written_time_reads_back_equal() {
        let read: Record = serde_json::from_str(r#"{"at":"2026-11-24T11:00:05.5+01:00"}"#).unwrap();
        assert_eq!(rfc3339(read.at), "2026-11-24T10:00:05.500Z");
        assert_eq!(read.maybe, None);
        let written = Record {
            at: now(),
            maybe: Some(now()),
        };
        let back: Record = serde_json::from_str(&serde_json::to_string(&written).unwrap()).unwrap();
        assert_eq!(back, written);
        assert!(serde_json::from_str::<Record>(r#"{"at":"yesterday"}"#).is_err());
    }
}
