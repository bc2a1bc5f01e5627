#!/usr/bin/env python3
"""Loads detunnel's exported records into ClickHouse (chdb, embedded) through the repository's
DDL and prints the totals the export test compares with what was sent, as JSON.

Usage: chdb_totals.py DDL PROTO RECORDS

RECORDS holds the Kafka messages' values one after the other (length-delimited
detunnel.v1.Sample records). The DDL's statements run in order except those marked `@kafka`
(the Kafka engine table and its view, which need a consumer group): the records go into the
raw table with the same Protobuf format the Kafka engine reads, and the per-minute view fills
the SummingMergeTree from there.
"""
import json
import os
import re
import sys
import tempfile

import chdb.session


def statements(ddl):
    """The DDL's statements, each with whether a `-- @kafka` comment marks it."""
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
    ddl_path, proto, records = sys.argv[1:4]
    with tempfile.TemporaryDirectory() as tmp:
        s = chdb.session.Session(os.path.join(tmp, "db"))
        for marked, text in statements(open(ddl_path).read()):
            if not marked:
                s.query(text)
        schema = os.path.abspath(proto) + ":Sample"
        s.query(
            f"INSERT INTO detunnel_samples SELECT * FROM file('{os.path.abspath(records)}', 'Protobuf', "
            f"'{structure(s)}') SETTINGS format_schema = '{schema}'"
        )

        def rows(sql):
            r = s.query(sql, "JSONCompact")
            return json.loads(r.bytes())["data"] if r.bytes() else []

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


def structure(s):
    """The raw table's columns as a file() structure (Nested columns as one)."""
    r = s.query("SELECT name, type FROM system.columns WHERE table = 'detunnel_samples' ORDER BY position", "JSONCompact")
    cols = json.loads(r.bytes())["data"]
    out, nested = [], {}
    for name, typ in cols:
        if "." in name:
            parent, child = name.split(".", 1)
            inner = re.fullmatch(r"Array\((.*)\)", typ).group(1)
            if parent not in nested:
                nested[parent] = []
                out.append((parent, None))
            nested[parent].append(f"{child} {inner}")
        else:
            out.append((name, typ))
    return ", ".join(
        f"{n} Nested({', '.join(nested[n])})" if t is None else f"{n} {t}" for n, t in out
    ).replace("'", "\\'")


if __name__ == "__main__":
    main()
