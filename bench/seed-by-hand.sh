#!/bin/bash
# The seed's lab by hand over plain ssh (OpenSSH, one connection per step, as a person would type it), against
# vxlab's built-in testbed: the baseline the benchmark compares a fresh converge with. Same work as
# playbooks/lab.ts does on the testbed: gateway forwarding + routes + MTU, the image, bridges, internal ports
# with gateway addresses, VXLAN ports, containers attached with ovs-docker (tx offload off: userspace datapath),
# forwarding + NAT on host1, underlay MTU. No checks, no idempotence: run it on a fresh testbed only.
#
#   bench/seed-by-hand.sh            (addresses of the default 2-host testbed; override with the variables below)
#
# GW H1 H2: management addresses (ansible_host); U1 U2: underlay addresses; CTX: the image build context on the
# hosts (lab_image_context); KEY, KNOWN: client key and known_hosts of the testbed (.testbed/).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
GW=${GW:-172.16.99.254}; H1=${H1:-172.16.99.101}; H2=${H2:-172.16.99.102}
U1=${U1:-172.16.10.100}; U2=${U2:-172.16.20.100}
CTX=${CTX:-$here/.testbed/image}
KEY=${KEY:-$here/.testbed/client/id_ed25519}; KNOWN=${KNOWN:-$here/.testbed/known_hosts}
S="ssh -o BatchMode=yes -o UserKnownHostsFile=$KNOWN -o StrictHostKeyChecking=yes -o ConnectTimeout=10 -i $KEY"

# the gateway router: forwarding, the underlay MTU, routes to the container networks via host1
$S root@$GW 'sysctl -qw net.ipv4.ip_forward=1
  for i in gw-h1 gw-h2; do ip link set dev $i mtu 1554; done
  ip route replace 10.0.1.0/24 via '$U1'; ip route replace 10.0.2.0/24 via '$U1
for h in 1 2; do
  ip=$([ $h = 1 ] && echo $H1 || echo $H2); rem=$([ $h = 1 ] && echo $U2 || echo $U1)
  $S root@$ip "cd $CTX && docker build -q -t con_img . >/dev/null"
  for n in 1 2; do
    key=$([ $n = 1 ] && echo 5000 || echo 6000); c=doc$(( (h-1)*2 + n ))
    $S root@$ip "docker run -d --net none --name $c con_img >/dev/null
      ovs-vsctl add-br br$n -- set bridge br$n datapath_type=netdev
      if [ $h = 1 ]; then ovs-vsctl add-port br$n net$n -- set interface net$n type=internal; ip addr add 10.0.$n.1/24 dev net$n; ip link set net$n up; fi
      ovs-vsctl add-port br$n vxlan$n -- set interface vxlan$n type=vxlan options:remote_ip=$rem options:key=$key
      ovs-docker add-port br$n eth0 $c --ipaddress=10.0.$n.$((h*10))/24 --gateway=10.0.$n.1
      nsenter -t \$(docker inspect -f '{{.State.Pid}}' $c) -n ethtool -K eth0 tx off >/dev/null  # userspace datapath: TCP needs it"
  done
  $S root@$ip 'ip link set dev eth0 mtu 1554'
done
$S root@$H1 'sysctl -qw net.ipv4.ip_forward=1
  for n in 1 2; do iptables -A FORWARD -i net$n -j ACCEPT; iptables -A FORWARD -o net$n -j ACCEPT; iptables -t nat -A POSTROUTING -s 10.0.$n.0/24 -j MASQUERADE; done'
