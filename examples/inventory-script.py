#!/usr/bin/env python3
"""A dynamic inventory for fleetclaim (and Ansible): the script protocol.

  fleetclaim inventory list -i examples/inventory-script.py
  fleetclaim claim -i examples/inventory-script.py -i examples/ansible/hosts.ini --limit edge

`--list` prints every group and, in _meta.hostvars, every host's variables,
so `--host NAME` is never needed (it prints {} here). A real one would ask a
CMDB or a cloud API; this one reads fleet.csv beside it: name,address,group,room.
"""
import csv
import json
import os
import sys


def inventory():
    groups, hostvars = {}, {}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fleet.csv")
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            group = groups.setdefault(row["group"], {"hosts": [], "vars": {}})
            group["hosts"].append(row["name"])
            group["vars"]["netdata_claim_rooms"] = [row["room"]]
            hostvars[row["name"]] = {"ansible_host": row["address"]}
    groups["all"] = {"vars": {"ansible_user": "netdata-admin", "netdata_claim_token_env": "NETDATA_CLAIM_TOKEN"}}
    groups["_meta"] = {"hostvars": hostvars}
    return groups


if __name__ == "__main__":
    if sys.argv[1:] == ["--list"]:
        json.dump(inventory(), sys.stdout, indent=2)
    elif len(sys.argv) == 3 and sys.argv[1] == "--host":
        json.dump({}, sys.stdout)
    else:
        sys.exit("usage: inventory-script.py --list | --host NAME")
