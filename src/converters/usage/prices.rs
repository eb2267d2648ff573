//! The price table: built-in prices per model, a pricing file over them, and model names
//! normalized to find their price.
//!
//! Must not read transcripts: it only prices what it is given.

use super::*;

/// Prices of one model, in USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    /// Writing the prompt cache (the 5-minute cache; also the 1-hour one unless
    /// `cache_write_1h` says otherwise).
    pub cache_write: f64,
    pub cache_read: f64,
    /// Writing the 1-hour prompt cache, where it costs more than the 5-minute one.
    #[serde(default)]
    pub cache_write_1h: Option<f64>,
}

/// `(model, input, output, 5m cache write, 1h cache write, cache read)` in USD per MTok, from
/// Anthropic's pricing page (platform.claude.com/docs/en/about-claude/pricing, November 2026),
/// checked against LiteLLM's and ccusage's tables. Model names are matched after
/// [`normalize_model`], so dated ids (`claude-sonnet-4-5-20250929`), provider prefixes
/// (`anthropic/`, `us.anthropic.`) and `[1m]` suffixes find their row.
/// Haiku 5.5 costs five times more for prompts over 100k tokens; the table has its base band.
pub(super) const BUILTIN_PRICES: &[(&str, f64, f64, f64, f64, f64)] = &[
    ("claude-fable-5-1", 10.0, 50.0, 12.5, 20.0, 0.25),
    ("claude-mythos-5-1", 10.0, 50.0, 12.5, 20.0, 0.25),
    ("claude-fable-5", 10.0, 50.0, 12.5, 20.0, 1.0),
    ("claude-mythos-5", 10.0, 50.0, 12.5, 20.0, 1.0),
    ("claude-opus-5-5", 4.0, 20.0, 5.0, 8.0, 0.20),
    ("claude-opus-5", 5.0, 25.0, 6.25, 10.0, 0.50),
    ("claude-opus-4-8", 5.0, 25.0, 6.25, 10.0, 0.50),
    ("claude-opus-4-7", 5.0, 25.0, 6.25, 10.0, 0.50),
    ("claude-opus-4-6", 5.0, 25.0, 6.25, 10.0, 0.50),
    ("claude-opus-4-5", 5.0, 25.0, 6.25, 10.0, 0.50),
    ("claude-opus-4-1", 15.0, 75.0, 18.75, 30.0, 1.50),
    ("claude-opus-4-0", 15.0, 75.0, 18.75, 30.0, 1.50),
    ("claude-opus-4", 15.0, 75.0, 18.75, 30.0, 1.50),
    ("claude-3-opus", 15.0, 75.0, 18.75, 30.0, 1.50),
    ("claude-sonnet-5-5", 2.0, 10.0, 2.5, 4.0, 0.10),
    ("claude-sonnet-5", 2.0, 10.0, 2.5, 4.0, 0.20),
    ("claude-sonnet-4-6", 3.0, 15.0, 3.75, 6.0, 0.30),
    ("claude-sonnet-4-5", 3.0, 15.0, 3.75, 6.0, 0.30),
    ("claude-sonnet-4-0", 3.0, 15.0, 3.75, 6.0, 0.30),
    ("claude-sonnet-4", 3.0, 15.0, 3.75, 6.0, 0.30),
    ("claude-3-7-sonnet", 3.0, 15.0, 3.75, 6.0, 0.30),
    ("claude-3-5-sonnet", 3.0, 15.0, 3.75, 6.0, 0.30),
    ("claude-haiku-5-5", 0.10, 0.50, 0.125, 0.20, 0.01),
    ("claude-haiku-4-5", 1.0, 5.0, 1.25, 2.0, 0.10),
    ("claude-3-5-haiku", 0.80, 4.0, 1.0, 1.6, 0.08),
    ("claude-3-haiku", 0.25, 1.25, 0.30, 0.50, 0.03),
];

/// The model id a price is looked up by: lower case, without a provider prefix, a date or
/// version suffix, or a context-size tag.
pub fn normalize_model(model: &str) -> String {
    let mut m = model.trim().to_ascii_lowercase();
    if let Some(i) = m.rfind('/') {
        m.drain(..=i);
    }
    if let Some(i) = m.find("claude-") {
        m.drain(..i);
    }
    for tag in ["[1m]", "-1m"] {
        if let Some(s) = m.strip_suffix(tag) {
            m.truncate(s.len());
        }
    }
    if let Some(i) = m.find([':', '@']) {
        m.truncate(i);
    }
    // Bedrock ids end in `-v1`, `-v2`.
    if let Some(i) = m.rfind("-v")
        && m[i + 2..].chars().all(|c| c.is_ascii_digit())
        && m.len() > i + 2
    {
        m.truncate(i);
    }
    // Dated snapshots: `-20250929`.
    if let Some(i) = m.rfind('-')
        && m.len() - i == 9
        && m[i + 1..].chars().all(|c| c.is_ascii_digit())
    {
        m.truncate(i);
    }
    m
}

/// Per-model prices: the built-in table, possibly overridden from a file.
#[derive(Debug, Clone)]
pub struct PriceTable {
    pub(super) prices: HashMap<String, Price>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PricingFile {
    pub(super) models: BTreeMap<String, Price>,
}

impl PriceTable {
    /// The built-in prices.
    pub fn builtin() -> PriceTable {
        let prices = BUILTIN_PRICES
            .iter()
            .map(|&(m, input, output, cache_write, write_1h, cache_read)| {
                (
                    m.to_string(),
                    Price {
                        input,
                        output,
                        cache_write,
                        cache_read,
                        cache_write_1h: Some(write_1h),
                    },
                )
            })
            .collect();
        PriceTable { prices }
    }

    /// The built-in prices with those of `path` (TOML, or JSON if it ends in `.json` or starts
    /// with `{`) put over them, model by model.
    pub fn with_file(mut self, path: &Path) -> Result<PriceTable, UsageError> {
        let err = |what: String| UsageError::Pricing {
            path: path.to_path_buf(),
            what,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let is_json =
            path.extension().is_some_and(|e| e == "json") || text.trim_start().starts_with('{');
        let file: PricingFile = if is_json {
            serde_json::from_str(&text).map_err(|e| err(format!("not valid pricing JSON: {e}")))?
        } else {
            toml::from_str(&text).map_err(|e| err(format!("not valid pricing TOML: {e}")))?
        };
        for (model, price) in file.models {
            for (name, v) in [
                ("input", price.input),
                ("output", price.output),
                ("cache_write", price.cache_write),
                ("cache_read", price.cache_read),
                ("cache_write_1h", price.cache_write_1h.unwrap_or(0.0)),
            ] {
                if !v.is_finite() || v < 0.0 {
                    return Err(err(format!(
                        "models.\"{model}\".{name}: {v} is not a price (USD per million tokens, 0 or more)"
                    )));
                }
            }
            self.prices.insert(normalize_model(&model), price);
        }
        Ok(self)
    }

    /// The price of `model`, if the table has it.
    pub fn get(&self, model: &str) -> Option<&Price> {
        self.prices.get(&normalize_model(model))
    }
}

impl Price {
    /// The cost in USD of `usage` at these prices, every cache write at the 5-minute price (a
    /// stream event does not say which cache was written).
    pub fn cost(&self, usage: &crate::types::TokenUsage) -> f64 {
        (usage.input_tokens as f64 * self.input
            + usage.output_tokens as f64 * self.output
            + usage.cache_creation_tokens as f64 * self.cache_write
            + usage.cache_read_tokens as f64 * self.cache_read)
            / 1_000_000.0
    }
}
