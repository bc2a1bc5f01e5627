//! `detunnel.toml`: the daemon's configuration. Every table and setting is optional; unknown
//! ones are errors that name them. `detunnel.example.toml` at the top of the repository shows
//! and explains every setting.
use crate::cli::{
    parse_cookie_len, parse_ip_protocol, parse_port_proto, DecoderArgs, MplsPayloadArg, NvgreArg,
};
use anyhow::{anyhow, Context as _, Result};
use clap::ValueEnum;
use serde::Deserialize;
use server::spec::{Declared, FlowSpec, GroupSpec, MapSpec, ThresholdSpec};
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// sFlow receiving.
    #[serde(default)]
    pub sflow: Sflow,
    /// The REST API.
    #[serde(default)]
    pub http: Http,
    /// Decoder options (the same as the command-line decoder flags).
    pub decoder: Option<Decoder>,
    /// Limits.
    #[serde(default)]
    pub limits: Limits,
    /// Flow definitions at start-up, by name.
    #[serde(default)]
    pub flows: BTreeMap<String, FlowSpec>,
    /// Thresholds, by name.
    #[serde(default)]
    pub thresholds: BTreeMap<String, ThresholdSpec>,
    /// Address groups, by name.
    #[serde(default)]
    pub groups: BTreeMap<String, GroupSpec>,
    /// Value maps, by name.
    #[serde(default)]
    pub maps: BTreeMap<String, MapSpec>,
    /// Broker pipelines run inside the daemon, by name.
    #[serde(default)]
    pub pipelines: BTreeMap<String, pipeline::PipelineSpec>,
    /// Exports of every sample.
    #[serde(default)]
    pub export: Export,
}

/// `[export]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Export {
    /// The name every exported record carries (default: the host's name and the first sFlow
    /// port, `HOST:PORT`); unique among the collectors feeding one topic.
    pub instance: Option<String>,
    /// `[export.ipfix]`.
    pub ipfix: Option<Ipfix>,
    /// `[export.kafka]`.
    pub kafka: Option<server::kafka::KafkaSettings>,
}

/// `[export.ipfix]`: IPFIX collectors every sFlow sample is exported to.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ipfix {
    /// Collectors, `HOST:PORT` (host names resolved once).
    #[serde(deserialize_with = "host_addrs")]
    pub collectors: Vec<SocketAddr>,
}

/// `[sflow]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sflow {
    /// Addresses to receive sFlow on (host names resolved once).
    #[serde(default = "default_sflow", deserialize_with = "host_addrs")]
    pub listen: Vec<SocketAddr>,
    /// Receiving and counting threads (0: one per core).
    #[serde(default)]
    pub workers: usize,
    /// Receive buffer asked for per socket, bytes.
    #[serde(default = "default_buffer")]
    pub receive_buffer: usize,
}

impl Default for Sflow {
    fn default() -> Sflow {
        Sflow { listen: default_sflow(), workers: 0, receive_buffer: default_buffer() }
    }
}

fn default_sflow() -> Vec<SocketAddr> {
    vec![SocketAddr::from(([0, 0, 0, 0], 6343))]
}
/// Reads an address as `--http` does: `HOST:PORT`, a host name resolved once.
fn host_addr<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    capture::resolve::socket_addr(&String::deserialize(d)?).map_err(serde::de::Error::custom)
}
/// Reads a list of addresses as `--sflow` does.
fn host_addrs<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<SocketAddr>, D::Error> {
    let texts = Vec::<String>::deserialize(d)?;
    texts.iter().map(|t| capture::resolve::socket_addr(t).map_err(serde::de::Error::custom)).collect()
}
fn default_buffer() -> usize {
    8 << 20
}

/// `[http]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Http {
    /// Address of the REST API (a host name resolved once).
    #[serde(default = "default_http", deserialize_with = "host_addr")]
    pub listen: SocketAddr,
    /// Refuse PUT and DELETE.
    #[serde(default)]
    pub readonly: bool,
    /// Largest request body, bytes.
    #[serde(default = "default_body")]
    pub max_body: usize,
    /// Further names clients may use in the Host header (`*` for any).
    #[serde(default)]
    pub hosts: Vec<String>,
    /// The token writes need (`Authorization: Bearer TOKEN`).
    pub token: Option<String>,
    /// Allow writes without a token although the API listens beyond loopback.
    #[serde(default)]
    pub open_writes: bool,
    /// Origins that get CORS headers (`*` for any).
    #[serde(default)]
    pub cors_origins: Vec<String>,
    /// Most connections open at once.
    #[serde(default = "default_connections")]
    pub max_connections: usize,
    /// Seconds a client may take to send a request's headers.
    #[serde(default = "default_header_timeout")]
    pub header_timeout: f64,
    /// Seconds a connection may stay open with no request.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout: f64,
}

impl Default for Http {
    fn default() -> Http {
        Http {
            listen: default_http(),
            readonly: false,
            max_body: default_body(),
            hosts: Vec::new(),
            token: None,
            open_writes: false,
            cors_origins: Vec::new(),
            max_connections: default_connections(),
            header_timeout: default_header_timeout(),
            idle_timeout: default_idle_timeout(),
        }
    }
}

impl Http {
    /// The connection bounds, or what is wrong with them.
    pub fn connection_limits(&self) -> Result<server::listener::ConnectionLimits> {
        let seconds = |v: f64, name: &str| {
            if v.is_finite() && v > 0.0 && v <= 86_400.0 {
                Ok(std::time::Duration::from_secs_f64(v))
            } else {
                Err(anyhow!("http.{name} must be a number of seconds from 0 to 86400, not {v}"))
            }
        };
        if self.max_connections == 0 {
            return Err(anyhow!("http.max_connections must be at least 1"));
        }
        Ok(server::listener::ConnectionLimits {
            max_connections: self.max_connections,
            header_timeout: seconds(self.header_timeout, "header_timeout")?,
            idle_timeout: seconds(self.idle_timeout, "idle_timeout")?,
        })
    }

    /// The access rules, for the API listening on `listen`.
    pub fn access(&self, listen: SocketAddr) -> server::access::Access {
        server::access::Access {
            listen,
            hosts: self.hosts.clone(),
            token: self.token.clone().filter(|t| !t.is_empty()),
            open_writes: self.open_writes,
            cors_origins: self.cors_origins.clone(),
        }
    }
}

fn default_connections() -> usize {
    512
}
fn default_header_timeout() -> f64 {
    10.0
}
fn default_idle_timeout() -> f64 {
    60.0
}

fn default_http() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8008))
}
fn default_body() -> usize {
    64 * 1024
}

/// `[decoder]`: the decoder flags of the command line, by the same names.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decoder {
    max_tunnels: Option<usize>,
    #[serde(default)]
    udp_ports: Vec<String>,
    #[serde(default)]
    gre_protocols: Vec<String>,
    #[serde(default)]
    ip_protocols: Vec<String>,
    mpls_payload: Option<String>,
    nvgre: Option<String>,
    l2tpv3_cookie: Option<u8>,
    #[serde(default)]
    l2tpv3_sublayer: bool,
}

impl Decoder {
    /// The decoder flags this table stands for.
    pub fn args(&self) -> Result<DecoderArgs> {
        let pairs = |list: &[String], what: &str| -> Result<Vec<(u16, dissect::Next)>> {
            list.iter().map(|s| parse_port_proto(s).map_err(|e| anyhow!("decoder.{what}: {e}"))).collect()
        };
        Ok(DecoderArgs {
            max_tunnels: self.max_tunnels.unwrap_or(8),
            udp_ports: pairs(&self.udp_ports, "udp_ports")?,
            gre_protocols: pairs(&self.gre_protocols, "gre_protocols")?,
            ip_protocols: self
                .ip_protocols
                .iter()
                .map(|s| parse_ip_protocol(s).map_err(|e| anyhow!("decoder.ip_protocols: {e}")))
                .collect::<Result<_>>()?,
            mpls_payload: match &self.mpls_payload {
                Some(m) => {
                    MplsPayloadArg::from_str(m, false).map_err(|e| anyhow!("decoder.mpls_payload: {e}"))?
                }
                None => MplsPayloadArg::Auto,
            },
            nvgre: match &self.nvgre {
                Some(m) => NvgreArg::from_str(m, false).map_err(|e| anyhow!("decoder.nvgre: {e}"))?,
                None => NvgreArg::Auto,
            },
            l2tpv3_cookie: parse_cookie_len(&self.l2tpv3_cookie.unwrap_or(0).to_string())
                .map_err(|e| anyhow!("decoder.l2tpv3_cookie: {e}"))?,
            l2tpv3_sublayer: self.l2tpv3_sublayer,
        })
    }
}

/// `[limits]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Flow entries per definition and worker; the smallest are evicted beyond it.
    #[serde(default = "default_entries")]
    pub flow_entries: usize,
    /// Agents (address and sub-agent) tracked per worker.
    #[serde(default = "default_agents")]
    pub agents: usize,
    /// Data sources tracked per worker.
    #[serde(default = "default_sources")]
    pub data_sources: usize,
    /// Flow definitions.
    #[serde(default = "default_hundred")]
    pub flows: usize,
    /// Thresholds.
    #[serde(default = "default_hundred")]
    pub thresholds: usize,
    /// Events kept for `/events/json`.
    #[serde(default = "default_log")]
    pub events: usize,
    /// Flow records kept for `/flows/json`.
    #[serde(default = "default_log")]
    pub flow_records: usize,
    /// Memory all flow definitions may hold together (compiled filters), MiB.
    #[serde(default = "default_definition_memory")]
    pub definition_memory: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            flow_entries: default_entries(),
            agents: default_agents(),
            data_sources: default_sources(),
            flows: default_hundred(),
            thresholds: default_hundred(),
            events: default_log(),
            flow_records: default_log(),
            definition_memory: default_definition_memory(),
        }
    }
}

fn default_definition_memory() -> usize {
    64
}

fn default_entries() -> usize {
    100_000
}
fn default_agents() -> usize {
    10_000
}
fn default_sources() -> usize {
    100_000
}
fn default_hundred() -> usize {
    100
}
fn default_log() -> usize {
    10_000
}

impl Config {
    /// Reads `path`.
    pub fn read(path: &str) -> Result<Config> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?;
        toml::from_str(&text).map_err(|e| anyhow!("{path}: {e}"))
    }

    /// The built-in default: the default listeners and two flows, the tunnel stacks seen and
    /// the tenants' conversations inside tunnels.
    pub fn builtin() -> Config {
        let flow = |json: &str| serde_json::from_str::<FlowSpec>(json).expect("built-in flow parses");
        let mut c = Config::default();
        c.flows.insert("stacks".into(), flow(r#"{"keys":"stack","value":"frames"}"#));
        c.flows.insert(
            "tenants".into(),
            flow(r#"{"keys":"ipsource,ipdestination,ipsource.1,ipdestination.1","value":"bytes","filter":"ipsource.1!=null"}"#),
        );
        c
    }

    /// The pipelines, typed: decoding with the `[decoder]` settings, filtering with the
    /// declared groups and maps; the first that is wrong is the error, named.
    pub fn pipelines(&self) -> Result<Vec<(String, pipeline::PipelineConfig)>> {
        let decoder = self
            .decoder
            .as_ref()
            .map_or(Ok(DecoderArgs { max_tunnels: 8, ..Default::default() }), |d| d.args())?;
        let context = self.declared().context().map_err(|e| anyhow!("{e}"))?;
        self.pipelines
            .iter()
            .map(|(name, spec)| {
                let config = spec
                    .config(decoder.config(), context.clone())
                    .map_err(|e| anyhow!("pipeline `{name}`: {e}"))?;
                Ok((name.clone(), config))
            })
            .collect()
    }

    /// The flows, thresholds, groups and maps declared.
    pub fn declared(&self) -> Declared {
        Declared {
            flows: self.flows.clone(),
            thresholds: self.thresholds.clone(),
            groups: self.groups.clone(),
            maps: self.maps.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_config_is_valid_and_unknown_settings_are_named() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../detunnel.example.toml");
        let c = Config::read(path).unwrap();
        c.declared().check().unwrap();
        c.decoder.as_ref().unwrap().args().unwrap();
        assert!(!c.flows.is_empty());
        assert!(!c.pipelines().unwrap().is_empty());
        let bad =
            toml::from_str::<Config>("[pipelines.x]\nsources = [\"vxlam://0.0.0.0\"]\nsinks = [\"flows\"]\n")
                .unwrap();
        assert!(bad.pipelines().unwrap_err().to_string().contains("pipeline `x`"));
        let e = toml::from_str::<Config>("[http]\nlisten = \"127.0.0.1:1\"\nport = 3\n").unwrap_err();
        assert!(e.to_string().contains("unknown field `port`"), "{e}");
        let bad = Decoder { udp_ports: vec!["99999=vxlan".into()], ..Decoder::default() };
        assert!(bad.args().unwrap_err().to_string().contains("decoder.udp_ports"));
        Config::builtin().declared().check().unwrap();
    }
}
