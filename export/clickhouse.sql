-- detunnel's samples in ClickHouse: a Kafka engine table reads the topic the collectors
-- export to ([export.kafka], format = "protobuf"), a materialized view moves each sample into
-- a raw MergeTree kept 7 days, and another adds them up per minute, agent, tunnel and inner
-- (tenant) addresses into a SummingMergeTree kept 90 days. Bytes and packets there are
-- weighted by the sampling rate: totals across any number of collectors add up exactly.
--
-- Set the broker list and topic below, and copy export/detunnel.proto into ClickHouse's
-- format_schema_path (format_schemas/ under its data path). README ("Scaling out") says more.
-- Delivery is at least once: a sample delivered twice (a retry after a lost acknowledgement)
-- has the same (instance, sequence); count or deduplicate on those.

-- Every sample, as the record has it, for 7 days.
CREATE TABLE IF NOT EXISTS detunnel_samples
(
    type Enum8('FLOWUNKNOWN' = 0, 'SFLOW_5' = 1, 'DETUNNEL_PIPELINE' = 100),
    time_received_ns UInt64,
    sequence_num UInt32,
    sampling_rate UInt64,
    sampler_address String,
    bytes UInt64,
    packets UInt64,
    src_addr String,
    dst_addr String,
    etype UInt32,
    proto UInt32,
    src_port UInt32,
    dst_port UInt32,
    in_if UInt32,
    out_if UInt32,
    src_mac UInt64,
    dst_mac UInt64,
    vlan_id UInt32,
    instance String,
    sequence UInt64,
    sub_agent_id UInt32,
    source_index UInt32,
    stack String,
    pipeline String,
    tunnels UInt32,
    tunnel String,
    tunnel_id UInt32,
    inner_src_addr String,
    inner_dst_addr String,
    inner_proto UInt32,
    inner_src_port UInt32,
    inner_dst_port UInt32,
    depths Nested
    (
        tunnel String,
        id_name String,
        id UInt32,
        src_addr String,
        dst_addr String,
        proto UInt32,
        src_port UInt32,
        dst_port UInt32,
        vlan_id UInt32
    )
)
ENGINE = MergeTree
PARTITION BY toDate(fromUnixTimestamp64Nano(toInt64(time_received_ns)))
ORDER BY (sampler_address, time_received_ns)
TTL toDateTime(fromUnixTimestamp64Nano(toInt64(time_received_ns))) + INTERVAL 7 DAY;

-- @kafka: the topic, read by a consumer group (the statements marked @kafka are the only
-- ones that need a broker).
CREATE TABLE IF NOT EXISTS detunnel_kafka AS detunnel_samples
ENGINE = Kafka
SETTINGS kafka_broker_list = '127.0.0.1:9092',
         kafka_topic_list = 'detunnel',
         kafka_group_name = 'clickhouse-detunnel',
         kafka_format = 'Protobuf',
         kafka_schema = 'detunnel.proto:Sample',
         kafka_num_consumers = 1;

-- @kafka
CREATE MATERIALIZED VIEW IF NOT EXISTS detunnel_samples_mv TO detunnel_samples
AS SELECT * FROM detunnel_kafka;

-- Per minute, agent, outer tunnel and inner 5-tuple: bytes and packets weighted by the
-- sampling rate, and the samples behind them.
CREATE TABLE IF NOT EXISTS detunnel_minute
(
    minute DateTime,
    agent IPv6,
    tunnel LowCardinality(String),
    tunnel_id UInt32,
    inner_src IPv6,
    inner_dst IPv6,
    inner_proto UInt8,
    inner_dst_port UInt16,
    bytes UInt64,
    packets UInt64,
    samples UInt64
)
ENGINE = SummingMergeTree((bytes, packets, samples))
ORDER BY (minute, agent, tunnel, tunnel_id, inner_src, inner_dst, inner_proto, inner_dst_port)
TTL minute + INTERVAL 90 DAY;

-- An address of the record (4 or 16 bytes; empty for none) as IPv6 (IPv4 mapped).
CREATE FUNCTION IF NOT EXISTS detunnel_ip AS (a) ->
    if(length(a) = 4,
       toIPv6(IPv4NumToString(reinterpretAsUInt32(reverse(a)))),
       toIPv6(IPv6NumToString(toFixedString(a, 16))));

CREATE MATERIALIZED VIEW IF NOT EXISTS detunnel_minute_mv TO detunnel_minute
AS SELECT
    toStartOfMinute(fromUnixTimestamp64Nano(toInt64(time_received_ns))) AS minute,
    detunnel_ip(sampler_address) AS agent,
    tunnel,
    tunnel_id,
    detunnel_ip(inner_src_addr) AS inner_src,
    detunnel_ip(inner_dst_addr) AS inner_dst,
    toUInt8(inner_proto) AS inner_proto,
    toUInt16(inner_dst_port) AS inner_dst_port,
    sum(bytes * sampling_rate) AS bytes,
    sum(packets * sampling_rate) AS packets,
    count() AS samples
FROM detunnel_samples
GROUP BY minute, agent, tunnel, tunnel_id, inner_src, inner_dst, inner_proto, inner_dst_port;
