//! A session's id as its own type, so that it is not mistaken for another string (an agent's
//! session id, a sandbox id, a request id).
//!
//! On the wire it is the plain string it always was. Must not check or make ids: the server
//! makes them, and any string a client sends is looked up as it is.

use std::borrow::{Borrow, Cow};
use std::fmt;
use std::ops::Deref;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

/// The id the server gives a session (`s_01J9Z8...`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(String);

/// The schema of the plain string, written in place: the schema files read as they did before
/// the type existed.
impl JsonSchema for SessionId {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "SessionId".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        String::json_schema(generator)
    }
}

impl SessionId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads as the `&str` it is, so that functions taking `&str` take `&id`.
impl Deref for SessionId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for SessionId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Lets a map keyed by `SessionId` be searched with a `&str`.
impl Borrow<str> for SessionId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<String> for SessionId {
    fn from(id: String) -> Self {
        SessionId(id)
    }
}

impl From<&str> for SessionId {
    fn from(id: &str) -> Self {
        SessionId(id.to_string())
    }
}

impl PartialEq<str> for SessionId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for SessionId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for SessionId {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn an_id_travels_as_the_plain_string_and_a_map_of_ids_is_searched_by_str() {
        let id = SessionId::from("s_0123456789abcdef");
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            r#""s_0123456789abcdef""#
        );
        assert_eq!(
            serde_json::from_str::<SessionId>(r#""s_0123456789abcdef""#).unwrap(),
            id
        );
        assert_eq!(
            serde_json::to_value(schemars::schema_for!(SessionId)).unwrap()["type"],
            "string"
        );
        let map = HashMap::from([(id.clone(), 1)]);
        assert_eq!(map.get("s_0123456789abcdef"), Some(&1));
        assert_eq!(id.to_string(), "s_0123456789abcdef");
    }
}
