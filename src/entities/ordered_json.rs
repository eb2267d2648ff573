//! A JSON document whose objects keep their keys in the order the file has them, for changing a
//! file people also edit by hand (`~/.claude.json`, `.mcp.json`) without reordering it: a key
//! that is replaced stays where it was, a new key goes last, as Claude Code's own writes do.
//!
//! `serde_json::Value` sorts keys (this crate does not turn on `preserve_order`, which would
//! change every JSON output); values are converted to and from it at the edges.
//!
//! Must not read or write files itself: `store` does.

use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Number, Value};

/// A JSON value with ordered objects.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Json>),
    Object(Object),
}

/// An object's members in file order; each key once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Object(Vec<(String, Json)>);

impl Object {
    pub fn get(&self, key: &str) -> Option<&Json> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key`: in its place when present, else last.
    pub fn insert(&mut self, key: &str, value: Json) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value,
            None => self.0.push((key.to_string(), value)),
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<Json> {
        let i = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(i).1)
    }

    /// The object at `key`, created empty (last) when missing or `null`. Any other value is left
    /// as it is and returned as the error (the caller says where it is): replacing it would lose
    /// what someone wrote.
    pub fn object_at(&mut self, key: &str) -> Result<&mut Object, Value> {
        let i = match self.0.iter().position(|(k, _)| k == key) {
            Some(i) => i,
            None => {
                self.0.push((key.to_string(), Json::Null));
                self.0.len() - 1
            }
        };
        let slot = &mut self.0[i].1;
        if matches!(slot, Json::Null) {
            *slot = Json::Object(Object::default());
        }
        match slot {
            Json::Object(o) => Ok(o),
            other => Err(Value::from(&*other)),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Json)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }
}

impl From<&Json> for Value {
    fn from(j: &Json) -> Value {
        match j {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => Value::Number(n.clone()),
            Json::String(s) => Value::String(s.clone()),
            Json::Array(a) => Value::Array(a.iter().map(Value::from).collect()),
            Json::Object(o) => Value::Object(
                o.0.iter()
                    .map(|(k, v)| (k.clone(), Value::from(v)))
                    .collect(),
            ),
        }
    }
}

impl From<Value> for Json {
    /// Objects come in `Value`'s (sorted) order: build ordered ones with [`Object::insert`].
    fn from(v: Value) -> Json {
        match v {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(b),
            Value::Number(n) => Json::Number(n),
            Value::String(s) => Json::String(s),
            Value::Array(a) => Json::Array(a.into_iter().map(Json::from).collect()),
            Value::Object(o) => {
                Json::Object(Object(o.into_iter().map(|(k, v)| (k, v.into())).collect()))
            }
        }
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => s.serialize_unit(),
            Json::Bool(b) => s.serialize_bool(*b),
            Json::Number(n) => n.serialize(s),
            Json::String(t) => s.serialize_str(t),
            Json::Array(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for v in a {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            Json::Object(o) => {
                let mut map = s.serialize_map(Some(o.0.len()))?;
                for (k, v) in &o.0 {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
        Ok(Json::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Json, E> {
        Ok(Json::Number(n.into()))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Json, E> {
        Ok(Json::Number(n.into()))
    }
    fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Json, E> {
        Number::from_f64(n)
            .map(Json::Number)
            .ok_or_else(|| E::custom("a number JSON cannot hold"))
    }
    fn visit_str<E>(self, s: &str) -> Result<Json, E> {
        Ok(Json::String(s.to_string()))
    }
    fn visit_string<E>(self, s: String) -> Result<Json, E> {
        Ok(Json::String(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        Ok(Json::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        // A repeated key keeps its first place and its last value, as JSON readers take it.
        let mut out = Object::default();
        while let Some((k, v)) = map.next_entry::<String, Json>()? {
            out.insert(&k, v);
        }
        Ok(Json::Object(out))
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_their_order_through_a_change() {
        let text = r#"{"zeta": 1, "alpha": {"b": [true, null, 2.5], "a": "x"}, "mid": -3}"#;
        let mut doc: Json = serde_json::from_str(text).unwrap();
        let Json::Object(o) = &mut doc else { panic!() };
        o.object_at("alpha")
            .unwrap()
            .insert("b", Json::String("new".into()));
        assert_eq!(o.object_at("zeta").unwrap_err(), Value::from(1));
        o.insert("added", Json::Bool(false));
        o.remove("mid");
        assert_eq!(
            serde_json::to_string(&doc).unwrap(),
            r#"{"zeta":1,"alpha":{"b":"new","a":"x"},"added":false}"#
        );
        // And the same values as serde_json reads them.
        let v = Value::from(&doc);
        assert_eq!(v["alpha"]["a"], "x");
        assert_eq!(
            Json::from(v.clone()),
            Json::from(Value::from(&Json::from(v)))
        );
    }

    #[test]
    fn big_numbers_and_repeated_keys_read_as_serde_json_reads_them() {
        let doc: Json =
            serde_json::from_str(r#"{"n": 18446744073709551615, "k": 1, "k": 2}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&doc).unwrap(),
            r#"{"n":18446744073709551615,"k":2}"#
        );
    }
}
