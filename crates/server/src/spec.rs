//! What users declare, as the REST API's JSON bodies and the configuration file's tables take
//! it: flow definitions, thresholds, address groups and value maps. Unknown attributes are
//! errors that name them.
use flows::Options;
use query::{Context, Definition};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// A flow definition, as `PUT /flow/{name}/json` takes it (sFlow-RT's attributes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FlowSpec {
    /// Keys, comma-separated (a JSON array of keys is joined with commas).
    #[serde(default, deserialize_with = "list_or_string")]
    pub keys: String,
    /// The value.
    #[serde(default = "default_value")]
    pub value: String,
    /// Extra values, comma-separated (or an array).
    #[serde(default, skip_serializing_if = "String::is_empty", deserialize_with = "list_or_string")]
    pub values: String,
    /// The filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Top flows per data source (5 to 20).
    #[serde(default = "default_n")]
    pub n: usize,
    /// Smoothing time constant in seconds (0.2 to 600).
    #[serde(default = "default_t")]
    pub t: f64,
    /// Separator between key values.
    #[serde(default = "default_fs")]
    pub fs: String,
    /// Keep a flow log.
    #[serde(default)]
    pub log: bool,
    /// Log flows when they start.
    #[serde(default)]
    pub flow_start: bool,
    /// Seconds after which a long flow is logged.
    #[serde(default = "default_active_timeout")]
    pub active_timeout: f64,
    /// Count discard samples instead of packet samples.
    #[serde(default)]
    pub dropped: bool,
    /// sFlow-RT's apps set `AGENT`; accepted and kept (tables are per data source).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agg_mode: Option<String>,
    /// IPFIX collectors (`ADDRESS` or `ADDRESS:PORT`) the completed flows are exported to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ipfix_collectors: Vec<String>,
}

fn default_value() -> String {
    "bytes".into()
}
fn default_n() -> usize {
    5
}
fn default_t() -> f64 {
    2.0
}
fn default_fs() -> String {
    ",".into()
}
fn default_active_timeout() -> f64 {
    60.0
}

/// A string, or an array of strings joined with commas.
fn list_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Either::deserialize(d)? {
        Either::One(s) => s,
        Either::Many(v) => v.join(","),
    })
}

impl FlowSpec {
    /// The flow language's definition and the engine's options.
    pub fn definition(&self) -> (Definition, Options) {
        let values =
            self.values.split(',').map(str::trim).filter(|v| !v.is_empty()).map(String::from).collect();
        let d = Definition {
            keys: self.keys.clone(),
            value: self.value.clone(),
            values,
            filter: self.filter.clone(),
            n: self.n,
            t: self.t,
            fs: self.fs.clone(),
        };
        let o = Options {
            dropped: self.dropped,
            // Exported flows are the flow log's records.
            log: self.log || !self.ipfix_collectors.is_empty(),
            flow_start: self.flow_start,
            active_timeout: self.active_timeout.max(1.0),
        };
        (d, o)
    }
}

/// A threshold, as `PUT /threshold/{name}/json` takes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ThresholdSpec {
    /// The metric: a flow definition's name, or an interface counter such as `ifinoctets`.
    pub metric: String,
    /// The value above which an event is made.
    pub value: f64,
    /// One event for each flow above the value (flow metrics), rather than one per data
    /// source.
    #[serde(default)]
    pub by_flow: bool,
    /// Seconds the metric must stay below the value before the threshold re-arms.
    #[serde(default = "default_threshold_timeout")]
    pub timeout: f64,
}

fn default_threshold_timeout() -> f64 {
    60.0
}

/// An address group set: label to CIDR prefixes.
pub type GroupSpec = BTreeMap<String, Vec<String>>;

/// A value map: label to values.
pub type MapSpec = BTreeMap<String, Vec<String>>;

/// Everything declared: flows, thresholds, groups and maps, by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Declared {
    /// Flow definitions.
    #[serde(default)]
    pub flows: BTreeMap<String, FlowSpec>,
    /// Thresholds.
    #[serde(default)]
    pub thresholds: BTreeMap<String, ThresholdSpec>,
    /// Address groups.
    #[serde(default)]
    pub groups: BTreeMap<String, GroupSpec>,
    /// Value maps.
    #[serde(default)]
    pub maps: BTreeMap<String, MapSpec>,
}

impl Declared {
    /// The groups and maps as the flow language reads them; a prefix that does not parse is
    /// the error.
    pub fn context(&self) -> Result<Context, String> {
        Context::from_sets(&self.groups, &self.maps)
    }

    /// Checks every flow definition and threshold compiles against the groups and maps.
    pub fn check(&self) -> Result<Context, String> {
        let ctx = self.context()?;
        for (name, f) in &self.flows {
            check_name(name)?;
            f.definition().0.compile(&ctx).map_err(|e| format!("flow `{name}`: {e}"))?;
        }
        for (name, t) in &self.thresholds {
            check_name(name)?;
            if !t.value.is_finite() {
                return Err(format!("threshold `{name}`: value must be a number"));
            }
        }
        Ok(ctx)
    }
}

/// Names of flows, thresholds, groups and maps: letters, digits, `-`, `_` and `.`, at most 100
/// characters (they appear in URLs and metric names).
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(format!("`{name}` is not a valid name (use letters, digits, `-`, `_` and `.`, at most 100)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_specs_take_sflow_rt_bodies_and_name_unknown_attributes() {
        let f: FlowSpec = serde_json::from_str(
            r#"{"keys":"ipsource,ipdestination,tcpsourceport,tcpdestinationport","value":"bytes","activeTimeout":10,"log":true}"#,
        )
        .unwrap();
        assert_eq!((f.n, f.t, f.fs.as_str(), f.active_timeout, f.log), (5, 2.0, ",", 10.0, true));
        let f: FlowSpec = serde_json::from_str(r#"{"keys":["a","b"],"value":"frames"}"#).unwrap();
        assert_eq!(f.keys, "a,b");
        let e = serde_json::from_str::<FlowSpec>(r#"{"keys":"ipsource","vlaue":"frames"}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field `vlaue`"), "{e}");
    }

    #[test]
    fn declared_checks_prefixes_and_definitions() {
        let mut d = Declared::default();
        d.groups.insert("g".into(), [("x".to_string(), vec!["10.0.0.0/33".to_string()])].into());
        assert!(d.check().unwrap_err().contains("10.0.0.0/33"));
        d.groups.clear();
        d.flows.insert("f".into(), serde_json::from_str(r#"{"keys":"group:ipsource:nope"}"#).unwrap());
        assert!(d.check().unwrap_err().contains("nope"));
    }
}
