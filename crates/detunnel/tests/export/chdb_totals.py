#!/usr/bin/env python3
"""Runs the repository's ClickHouse DDL in chdb (embedded ClickHouse) against a Kafka topic,
waits until its Kafka engine table has moved the expected number of records into the raw
table (and the per-minute view into the SummingMergeTree), and prints the totals the export
test compares with what was sent, as JSON.

Usage: chdb_totals.py DDL PROTO BROKER TOPIC EXPECTED

The DDL's broker list, topic and schema path are replaced by BROKER, TOPIC and PROTO's path.
ClickHouse reports a spurious `Shutdown was called (LOGICAL_ERROR)` when it creates a Kafka
table (../shared/EXPORT.md), yet creates it and streams: that error is ignored when the table
exists. The consumer group's join takes about 25 s.
"""
import json
import os
import sys
import tempfile
import time

import chdb.session


def statements(ddl):
    """The DDL's statements, each with whether a `-- @kafka` comment marks it (those are the
    ones that need a broker)."""
    out = []
    marked = False
    current = []
    for line in ddl.splitlines():
        if line.startswith("--"):
            marked = marked or line.startswith("-- @kafka")
            continue
        current.append(line)
        if line.rstrip().endswith(";"):
            text = "\n".join(current).strip().rstrip(";")
            if text:
                out.append((marked, text))
            current, marked = [], False
    return out


def main():
    ddl_path, proto, broker, topic, expected = sys.argv[1:6]
    ddl = open(ddl_path).read()
    ddl = ddl.replace("'127.0.0.1:9092'", f"'{broker}'").replace("kafka_topic_list = 'detunnel'", f"kafka_topic_list = '{topic}'")
    ddl = ddl.replace("'detunnel.proto:Sample'", f"'{os.path.abspath(proto)}:Sample'")
    with tempfile.TemporaryDirectory() as tmp:
        s = chdb.session.Session(os.path.join(tmp, "db"))
        for marked, text in statements(ddl):
            try:
                s.query(text)
            except Exception as e:
                if not (marked and "Shutdown was called" in str(e)):
                    raise

        def rows(sql):
            r = s.query(sql, "JSONCompact")
            return json.loads(r.bytes())["data"] if r.bytes() else []

        assert rows("EXISTS TABLE detunnel_kafka")[0][0] == 1, "the Kafka engine table was not created"
        deadline = time.time() + 120
        while rows("SELECT count() FROM detunnel_samples")[0][0] < int(expected) and time.time() < deadline:
            time.sleep(0.5)
        # Anything more (a duplicate) would show in the counts below.
        time.sleep(2)
        out = {
            "records": rows("SELECT count() FROM detunnel_samples")[0][0],
            "distinct": rows("SELECT uniqExact(instance, sequence) FROM detunnel_samples")[0][0],
            "instances": rows("SELECT DISTINCT instance FROM detunnel_samples ORDER BY instance"),
            "per_agent": rows(
                "SELECT IPv6NumToString(agent), sum(bytes), sum(packets) FROM detunnel_minute "
                "GROUP BY agent ORDER BY agent"
            ),
            "per_tunnel": rows(
                "SELECT tunnel, tunnel_id, sum(bytes), sum(packets) FROM detunnel_minute "
                "GROUP BY tunnel, tunnel_id ORDER BY tunnel, tunnel_id"
            ),
            "per_pair": rows(
                "SELECT IPv6NumToString(inner_src), IPv6NumToString(inner_dst), inner_proto, "
                "inner_dst_port, sum(bytes), sum(samples) FROM detunnel_minute "
                "GROUP BY inner_src, inner_dst, inner_proto, inner_dst_port ORDER BY inner_src, inner_dst"
            ),
            "depth1": rows(
                "SELECT depths.tunnel[2], depths.id_name[2], count() FROM detunnel_samples "
                "GROUP BY 1, 2 ORDER BY 1, 2"
            ),
            "stacks": rows("SELECT stack, count() FROM detunnel_samples GROUP BY stack ORDER BY stack"),
        }
        s.close()
        print(json.dumps(out))


if __name__ == "__main__":
    main()
