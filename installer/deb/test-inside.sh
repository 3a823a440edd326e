#!/bin/bash
# The package test's inside half: runs as root in the freshly booted Debian
# root that installer/deb/test.sh made. Every check prints "ok" or "FAIL";
# the exit code is the number of failures.
set -u
failures=0
ok() { echo "ok    $*"; }
fail() { echo "FAIL  $*"; failures=$((failures + 1)); }
# check DESCRIPTION COMMAND...: the command must succeed.
check() { local what="$1"; shift; if "$@" >/tmp/check.out 2>&1; then ok "$what"; else fail "$what: $(tail -3 /tmp/check.out)"; fi; }
# wait_for SECONDS COMMAND...: retry the command until it succeeds.
wait_for() { local n=$(( $1 * 10 )); shift; for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }
as_alice() { runuser -u alice -- env XDG_RUNTIME_DIR="/run/user/$alice_uid" "$@"; }
get() { curl -s --max-time 3 "$@"; }
service_pid() { systemctl show -p MainPID --value cardbridge-portservice; }
agent_pid() { as_alice systemctl --user show -p MainPID --value cardbridge-agent; }
alice_port() { as_alice curl -s --max-time 3 http://localhost:43487/PRS/GetPortNumber | sed -n 's/.*"portNumber":\([0-9]*\).*/\1/p'; }
version_of() { get "http://127.0.0.1:$1/api/versioninfo" | grep -o '"version":"[^"]*"' | head -1 | cut -d'"' -f4; }
export -f as_alice get service_pid agent_pid alice_port version_of
# pages_ask_start: a page asks ConnectPRService every 20 ms, each answer's
# status (000: refused or no answer) going to /tmp/asked, until
# pages_ask_stop; all_answered checks that every one was answered 200.
pages_ask_start() {
  rm -f /tmp/asked /tmp/stop-asking
  (while [ ! -e /tmp/stop-asking ]; do curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 http://127.0.0.1:43487/PRS/ConnectPRService >>/tmp/asked; sleep 0.02; done) &
  asking=$!
  sleep 0.3
}
pages_ask_stop() { sleep 0.3; touch /tmp/stop-asking; wait "$asking"; }
answered() { echo "$(grep -c '^200$' /tmp/asked) of $(wc -l </tmp/asked) answered 200"; }
all_answered() { [ -s /tmp/asked ] && ! grep -qv '^200$' /tmp/asked; }

echo "== install"
check "dpkg -i installs the package" dpkg -i /cb/cardbridge.deb
check "the copyright file names the Apache-2.0 licence" grep -q '^License: Apache-2.0$' /usr/share/doc/cardbridge/copyright
check "NOTICE lists the third-party modules and their licences" grep -q 'github.com/ebfe/scard .*BSD-2-Clause' /usr/share/doc/cardbridge/NOTICE
check "the port service is enabled" test "$(systemctl is-enabled cardbridge-portservice)" = enabled
check "the port service is running" wait_for 10 systemctl is-active --quiet cardbridge-portservice
# Every well-known port, on ::1 too where the root has IPv6 loopback.
loopbacks="127.0.0.1"
grep -qi '^00000000000000000000000000000001 ' /proc/net/if_inet6 2>/dev/null && loopbacks="127.0.0.1 [::1]"
check "it answers ConnectPRService on every well-known port ($loopbacks)" wait_for 10 bash -c 'for p in 43487 44213 45031 46478 48853; do for h in '"$loopbacks"'; do curl -s --max-time 3 "http://$h:$p/PRS/ConnectPRService" | grep -q "\"statusCode\":200" || exit 1; done; done'
# (Once it answers: systemd calls a simple service active before its
# process has dropped root.)
user="$(ps -o user= -p "$(service_pid)" | tr -d ' ')"
check "it runs as an unprivileged dynamic user (not root: $user)" test -n "$user" -a "$user" != root
check "its state directory exists" test -d /var/lib/cardbridge
check "its registration socket is in /run/cardbridge" test -S /run/cardbridge/portservice.sock
exposure="$(systemd-analyze security cardbridge-portservice 2>/dev/null | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')"
echo "      systemd-analyze security: exposure $exposure"
check "its unit is hardened (exposure ${exposure:-?} below 3.0)" awk -v e="${exposure:-10}" 'BEGIN { exit !(e < 3.0) }'
cardbridge-portservice install >/tmp/owned.out 2>&1; code=$?
check "install refuses to take over the package's service (exit $code)" bash -c "[ $code = 1 ] && grep -q 'is installed by the cardbridge package' /tmp/owned.out"
check "status answers for the package's service" cardbridge-portservice status
check "the agent's user unit is enabled for every user" test -L /etc/systemd/user/default.target.wants/cardbridge-agent.service
check "the XDG autostart entry is there, skipped where systemd runs the session" grep -q '^X-systemd-skip=true' /etc/xdg/autostart/cardbridge-agent.desktop
check "the per-user range is reserved in /etc/sysctl.d" grep -q '^net.ipv4.ip_local_reserved_ports = 55000-55999$' /etc/sysctl.d/60-cardbridge.conf
reserved=/proc/sys/net/ipv4/ip_local_reserved_ports
if [ -w "$reserved" ]; then
  check "the reservation is in force ($(cat $reserved))" grep -q '55000-55999' "$reserved"
else
  echo "      $reserved is read-only in this root: the file is checked, not the running kernel"
fi

echo "== a virtual card in the root's own pcscd"
systemctl start pcscd.service
systemd-run --quiet --unit cb-vcard --property Restart=always --property RestartSec=0.2 /cb/vcard --reader 0 --cn 555123456789
check "cardbridge card sees the virtual card" wait_for 15 bash -c 'cardbridge card | grep -q 555123456789'

echo "== a user logs in"
useradd -m alice
alice_uid="$(id -u alice)"
export alice_uid
loginctl enable-linger alice
check "the user's session starts the agent" wait_for 20 as_alice systemctl --user is-active --quiet cardbridge-agent
check "the port service gives the user a port" wait_for 10 bash -c '[ -n "$(alice_port)" ]'
port="$(alice_port)"
echo "      alice's port: $port"
check "the agent has a port in the range ($port)" test "${port:-0}" -ge 55000 -a "${port:-0}" -le 55999
check "the agent serves the card's UUID to its user" wait_for 10 bash -c "runuser -u alice -- curl -s --max-time 3 http://localhost:$port/api/card | grep -q '\"uuid\":\"555123456789\"'"
# What the XDG autostart entry starts on desktops without a systemd user
# manager: the supervisor runs the agent, which finds the user's agent
# already running and exits 3, which the supervisor does not restart.
autostart="$(sed -n 's/^Exec=//p' /etc/xdg/autostart/cardbridge-agent.desktop)"
as_alice timeout 30 $autostart >/tmp/autostart.out 2>&1; code=$?
check "the autostart entry's command runs the supervisor and the agent, which stops: the user's agent already runs (exit $code, want 3)" \
  bash -c "[ $code = 3 ] && [[ '$autostart' == /usr/bin/cardbridge-supervisor\ * ]] && grep -q 'already' /tmp/autostart.out && ! grep -q 'starting it again' /tmp/autostart.out"
check "another user (root) is refused with WRONG_USER" bash -c "curl -s --max-time 3 http://localhost:$port/api/card | grep -q WRONG_USER"
check "root has no agent: GetPortNumber answers PR30007" bash -c 'curl -s --max-time 3 http://localhost:43487/PRS/GetPortNumber | grep -q PR30007'
if cardbridge help | grep -q doctor; then
  # This root has no graphical pinentry (the package only recommends one):
  # doctor says signing cannot work, and what to install.
  as_alice cardbridge doctor >/tmp/doctor.out 2>&1; code=$?
  check "without a pinentry, doctor fails only its PIN prompt check (exit $code)" \
    bash -c "[ $code = 1 ] && grep -q '^  FAIL  PIN prompt .*no pinentry program found' /tmp/doctor.out && [ \"\$(grep -c '^  FAIL' /tmp/doctor.out)\" = 1 ] && grep -q 'apt-get install pinentry-gnome3' /tmp/doctor.out"
  # A desktop's pinentry (the scripted one, under a graphical pinentry's
  # name) puts everything right.
  install -m 0755 /cb/pinentry /usr/local/bin/pinentry-gtk-2
  as_alice cardbridge doctor >/tmp/doctor.out 2>&1; code=$?
  sed 's/^/      /' /tmp/doctor.out
  check "cardbridge doctor finds nothing wrong for the user (exit $code)" test "$code" = 0
  check "doctor names the PIN prompt signing will use" grep -q '^  ok    PIN prompt .*/usr/local/bin/pinentry-gtk-2 (found)' /tmp/doctor.out
fi

echo "== logs in the journal, with priorities"
check "the port service's log is in its journal at priority info" \
  bash -c "journalctl -u cardbridge-portservice -p info..info -o cat --no-pager | grep -q '^port service started'"
check "the user's agent's log is in the journal at priority info" \
  bash -c "journalctl _SYSTEMD_USER_UNIT=cardbridge-agent.service -p info..info -o cat --no-pager | grep -q '^cardbridge agent starting'"
# A known error: another program holds a well-known port as the service
# starts (here a standalone agent, as root, on the last one).
systemctl stop cardbridge-portservice
cardbridge agent --listen 48853 --log /tmp/squatter.log --pinentry /cb/pinentry & squatter=$!
wait_for 10 bash -c 'curl -s --max-time 1 http://localhost:48853/api/versioninfo | grep -q cardbridge'
systemctl start cardbridge-portservice
check "the journal holds the port service's error about the held port, at priority err" \
  wait_for 10 bash -c "journalctl -u cardbridge-portservice -p err..err -o cat --no-pager | grep -q 'well-known port 48853'"
kill "$squatter"; wait "$squatter" 2>/dev/null || true
systemctl restart cardbridge-portservice
check "the user gets a port again after the restart" wait_for 15 bash -c '[ -n "$(alice_port)" ]'

echo "== policy in /etc/cardbridge, changed while installed"
vi_of() { as_alice curl -s --max-time 3 "http://localhost:$1/api/versioninfo"; }
export -f vi_of
mkdir -p /etc/cardbridge
printf '%s\n' '{"DomainList": ["https://policy.example"], "LogLevel": "debug"}' >/etc/cardbridge/policy.json
check "the running port service puts the policy's DomainList in force" \
  wait_for 20 bash -c "vi_of 43487 | grep -q '\"source\":\"policy:/etc/cardbridge/policy.json\"'"
check "the running agent follows it" wait_for 20 bash -c "vi_of $port | grep -q '\"entries\":\\[\"https://policy.example\"\\]'"
check "a page of the site the policy allows reads the card" \
  bash -c "as_alice curl -s --max-time 3 -H 'Origin: https://policy.example' http://localhost:$port/api/card | grep -q '\"uuid\":\"555123456789\"'"
check "a site of the list underneath is refused" \
  bash -c "as_alice curl -s --max-time 3 -H 'Origin: https://my.esr.nhs.uk' http://localhost:$port/api/card | grep -q ORIGIN_NOT_ALLOWED"
systemctl restart cardbridge-portservice
check "after a restart the port service reports its log level from the policy" \
  wait_for 15 bash -c "vi_of 43487 | grep -q '{\"name\":\"log-level\",\"value\":\"debug\",\"source\":\"policy\",\"where\":\"/etc/cardbridge/policy.json\"}'"
check "and logs at debug: the journal holds its debug lines" \
  wait_for 15 bash -c "journalctl -u cardbridge-portservice -p debug..debug -o cat --no-pager | grep -q '^agent listening'"
as_alice systemctl --user restart cardbridge-agent
check "the restarted agent reports its log level from the policy" \
  wait_for 15 bash -c "vi_of $port | grep -q '{\"name\":\"log-level\",\"value\":\"debug\",\"source\":\"policy\"'"
printf '%s\n' '{"LogLevel": "verbose", "Colour": "blue"}' >/etc/cardbridge/policy.json
as_alice cardbridge doctor >/tmp/doctor.out 2>&1
check "doctor warns of the policies it cannot use" grep -q '^  warn  Administrator policy .*Colour is not a cardbridge policy' /tmp/doctor.out
rm /etc/cardbridge/policy.json
check "without the policy the agent is back on the port service's DomainList" \
  wait_for 20 bash -c "vi_of $port | grep -q '\"source\":\"portservice\"'"
systemctl restart cardbridge-portservice
check "the user gets a port again after the restart" wait_for 15 bash -c '[ -n "$(alice_port)" ]'

echo "== killed processes come back"
old="$(agent_pid)"
kill -KILL "$old"
check "the agent is restarted after SIGKILL" wait_for 15 bash -c "p=\$(agent_pid); [ \"\$p\" != 0 ] && [ \"\$p\" != $old ]"
check "the restarted agent serves on the same port" wait_for 15 bash -c "runuser -u alice -- curl -s --max-time 3 http://localhost:$port/api/versioninfo | grep -q '\"port\":$port'"
old="$(service_pid)"
kill -KILL "$old"
for _ in $(seq 50); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
# systemd starts it again 2 s later (RestartSec); meanwhile the well-known
# ports' sockets, which the service handed to systemd, stay open.
check "a page asking while the killed port service is down waits and is answered by the next ($loopbacks)" bash -c 'for h in '"$loopbacks"'; do curl -s --max-time 15 "http://$h:43487/PRS/ConnectPRService" | grep -q "\"statusCode\":200" || exit 1; done'
check "the port service is restarted after SIGKILL" wait_for 15 bash -c "p=\$(service_pid); [ \"\$p\" != 0 ] && [ \"\$p\" != $old ]"
[ "$(service_pid)" != 0 ] || systemctl status --no-pager -n 20 cardbridge-portservice | sed 's/^/      /' || true
check "the user keeps the port" wait_for 15 bash -c "[ \"\$(alice_port)\" = $port ]"
# SIGQUIT ends a Go program as a panic does: its goroutines on stderr, exit
# code 2. That is a crash, not a bad flag (64): both come back.
old="$(agent_pid)"
kill -QUIT "$old"
check "the agent is restarted after a crash with exit code 2 (SIGQUIT)" wait_for 15 bash -c "p=\$(agent_pid); [ \"\$p\" != 0 ] && [ \"\$p\" != $old ]"
old="$(service_pid)"
kill -QUIT "$old"
check "the port service is restarted after a crash with exit code 2 (SIGQUIT)" wait_for 15 bash -c "p=\$(service_pid); [ \"\$p\" != 0 ] && [ \"\$p\" != $old ]"
check "systemd saw the port service exit with code 2" bash -c "journalctl -u cardbridge-portservice --no-pager | grep 'status=2/'"
check "the user keeps the port after both crashes" wait_for 15 bash -c "[ \"\$(alice_port)\" = $port ]"
# A restart, as an upgrade makes: pages asking throughout are all answered.
pages_ask_start
systemctl restart cardbridge-portservice
pages_ask_stop
check "no page is refused while the port service restarts ($(answered))" all_answered
# A well-known port taken out of the settings is let go at the next start,
# though systemd kept its socket.
cp /etc/default/cardbridge-portservice /tmp/settings.before
echo 'CARDBRIDGE_PORTS=43487,44213,45031,46478' >>/etc/default/cardbridge-portservice
systemctl restart cardbridge-portservice
check "a well-known port taken out of the settings is closed at the restart (48853)" wait_for 10 bash -c '! curl -s --max-time 2 http://127.0.0.1:48853/PRS/ConnectPRService && ! grep -q ":$(printf %04X 48853) 0*:0000 0A" /proc/net/tcp /proc/net/tcp6'
check "the ports still in the settings answer" wait_for 10 bash -c 'curl -s --max-time 3 http://127.0.0.1:46478/PRS/ConnectPRService | grep -q "\"statusCode\":200"'
cp /tmp/settings.before /etc/default/cardbridge-portservice
systemctl restart cardbridge-portservice
check "and it is served again once the settings name it" wait_for 10 bash -c 'curl -s --max-time 3 http://127.0.0.1:48853/PRS/ConnectPRService | grep -q "\"statusCode\":200"'

echo "== upgrade"
before="$(version_of 43487)"
agent_before="$(agent_pid)"
cp /var/lib/cardbridge/PortStore.txt /tmp/portstore.before
pages_ask_start
check "dpkg -i installs the newer package" dpkg -i /cb/cardbridge-upgrade.deb
pages_ask_stop
check "no page is refused while the upgrade restarts the port service ($(answered))" all_answered
check "the port service runs the new version (was $before)" wait_for 15 bash -c "v=\$(version_of 43487); [ -n \"\$v\" ] && [ \"\$v\" != '$before' ]"
# The logged-in user's agent moves onto the new program by itself, in place.
check "the user's running agent restarts onto the new version (same pid $agent_before, same port)" wait_for 40 bash -c "v=\$(as_alice curl -s --max-time 3 http://localhost:$port/api/versioninfo | grep -o '\"version\":\"[^\"]*\"' | head -1 | cut -d'\"' -f4); [ -n \"\$v\" ] && [ \"\$v\" != '$before' ] && [ \"\$(agent_pid)\" = $agent_before ]"
check "PortStore.txt keeps the user's port" grep -q "^uid:$alice_uid	$port	" /var/lib/cardbridge/PortStore.txt
check "the user still gets the same port" wait_for 15 bash -c "[ \"\$(alice_port)\" = $port ]"
check "the service is still enabled" test "$(systemctl is-enabled cardbridge-portservice)" = enabled

echo "== remove (state kept)"
check "dpkg -r removes the package" dpkg -r cardbridge
check "the port service is stopped" bash -c '! systemctl is-active --quiet cardbridge-portservice'
check "no port service process is left" bash -c '! pgrep -x cardbridge-portse'
check "its unit is gone" bash -c '! test -e /lib/systemd/system/cardbridge-portservice.service'
check "the state is kept" test -s /var/lib/cardbridge/PortStore.txt

echo "== purge"
check "dpkg -P purges the package" dpkg -P cardbridge
check "the state is deleted" bash -c '! test -e /var/lib/cardbridge && ! test -e /var/lib/private/cardbridge'
check "the settings file is deleted" bash -c '! test -e /etc/default/cardbridge-portservice'
check "the sysctl file is deleted" bash -c '! test -e /etc/sysctl.d/60-cardbridge.conf'
if [ -w "$reserved" ]; then
  check "the reservation is released ($(cat $reserved))" bash -c "! grep -q '55000-55999' $reserved"
fi
check "no enablement links are left" bash -c '! test -e /etc/systemd/system/multi-user.target.wants/cardbridge-portservice.service && ! test -L /etc/systemd/user/default.target.wants/cardbridge-agent.service'
check "the programs are gone" bash -c '! test -e /usr/bin/cardbridge && ! test -e /usr/bin/cardbridge-portservice && ! test -e /usr/bin/cardbridge-supervisor'

echo "== by hand: cardbridge-portservice install, through the same systemd"
mkdir -p /opt/cardbridge
dpkg-deb --fsys-tarfile /cb/cardbridge.deb | tar -x -C /tmp ./usr/bin
cp /tmp/usr/bin/cardbridge /tmp/usr/bin/cardbridge-portservice /tmp/usr/bin/cardbridge-supervisor /opt/cardbridge/
svc=/opt/cardbridge/cardbridge-portservice
runuser -u alice -- $svc install >/tmp/nonadmin.out 2>&1; code=$?
check "install without administrator rights fails clearly (exit $code)" bash -c "[ $code = 1 ] && grep -q 'needs administrator rights: run it with sudo' /tmp/nonadmin.out"
check "install installs and starts the service" $svc install --trusted-url http://127.0.0.1:9/
check "status says running (exit 0)" $svc status
check "the unit runs with the given flags" bash -c 'systemctl show -p ExecStart cardbridge-portservice | grep -q -- "--trusted-url http://127.0.0.1:9/"'
check "the unit is the hardened one" grep -q '^DynamicUser=yes' /etc/systemd/system/cardbridge-portservice.service
check "install again is harmless" $svc install --trusted-url http://127.0.0.1:9/
check "the agent's user unit is enabled" test -L /etc/systemd/user/default.target.wants/cardbridge-agent.service
systemctl restart "user@$alice_uid.service"
check "the user's next session starts the agent from /opt" wait_for 20 bash -c "runuser -u alice -- env XDG_RUNTIME_DIR=/run/user/$alice_uid systemctl --user show -p ExecStart cardbridge-agent | grep -q /opt/cardbridge/cardbridge && runuser -u alice -- env XDG_RUNTIME_DIR=/run/user/$alice_uid systemctl --user is-active --quiet cardbridge-agent"
check "the user gets a port from the reinstalled service" wait_for 15 bash -c '[ -n "$(alice_port)" ]'
check "stop stops it" $svc stop
$svc status >/dev/null 2>&1; code=$?
check "status says stopped (exit $code, want 3)" test "$code" = 3
check "stop again is harmless" $svc stop
check "start starts it" $svc start
check "start again is harmless" $svc start
echo "CARDBRIDGE_RANGE=bogus" >/etc/default/cardbridge-portservice
systemctl restart cardbridge-portservice
check "a bad setting in /etc/default stops the service without a restart loop" wait_for 10 bash -c '[ "$(systemctl is-failed cardbridge-portservice)" = failed ]'
check "the journal says which setting" bash -c "journalctl -u cardbridge-portservice --no-pager | grep -q -- 'CARDBRIDGE_RANGE: \"bogus\"'"
$svc status >/dev/null 2>&1; code=$?
check "status says stopped for a failed service (exit $code, want 3)" test "$code" = 3
rm /etc/default/cardbridge-portservice
check "start brings it back once the setting is fixed" $svc start
check "uninstall removes it" $svc uninstall
$svc status >/tmp/status.out 2>&1; code=$?
check "status says not installed (exit $code, want 4)" bash -c "[ $code = 4 ] && grep -q 'not installed' /tmp/status.out"
check "the agent's login start is removed" bash -c '! test -e /etc/systemd/user/cardbridge-agent.service && ! test -L /etc/systemd/user/default.target.wants/cardbridge-agent.service && ! test -e /etc/xdg/autostart/cardbridge-agent.desktop'
check "uninstall again is harmless" $svc uninstall

echo "== $failures failure(s)"
exit "$failures"
