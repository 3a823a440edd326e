package doctor

import (
	"fmt"
	"strings"
	"time"

	"github.com/cardbridge/cardbridge/api"
	"github.com/cardbridge/cardbridge/domainlist"
)

// Thresholds for the DomainList and the trusted URL.
const (
	// staleAfter: with a trusted URL configured, a DomainList that has not
	// been saved or confirmed current for this long is stale (the service
	// checks every 4 hours, so this is dozens of missed checks).
	staleAfter = 7 * 24 * time.Hour
	// trustedGrace: a trusted URL whose last check failed but which
	// answered within this long is a warning (a passing outage); longer,
	// or never, is a failure.
	trustedGrace = 24 * time.Hour
)

// agentInfo is the versioninfo of the agent found, registered or
// standalone, or nil.
func agentInfo(f netFacts) *api.VersionInfo {
	if f.agent != nil && f.agent.kind == kindCardbridge {
		return f.agent.info
	}
	if f.standalone.kind == kindCardbridge {
		return f.standalone.info
	}
	return nil
}

// domainEntries are the origins pages may use cardbridge from: the port
// service's list, else the agent's, else the built-in one.
func domainEntries(f netFacts) []string {
	if f.ps != nil {
		return f.ps.info.DomainList.Entries
	}
	if ai := agentInfo(f); ai != nil {
		return ai.DomainList.Entries
	}
	return domainlist.Builtin().Entries()
}

func checkDomainList(f netFacts, p Probes, now time.Time, goos string) Check {
	c := Check{ID: "domainlist", Name: "DomainList"}
	var dl api.DomainListInfo
	var tu api.TrustedURLInfo
	ai := agentInfo(f)
	switch {
	case f.ps != nil:
		dl, tu = f.ps.info.DomainList, f.ps.info.TrustedURL
	case ai != nil:
		dl = ai.DomainList
	default:
		c.Status, c.Detail = Skip, "not checked: neither the port service nor the agent answers"
		return c
	}
	path, isFile := strings.CutPrefix(dl.Source, "file:")
	var updated time.Time
	if dl.Updated != nil {
		updated = *dl.Updated
	} else if isFile {
		if st, err := p.Stat(path); err == nil {
			updated = st.ModTime()
		}
	}

	version := dl.Version
	if version == "" {
		version = "(none)"
	}
	c.Status = OK
	c.Detail = fmt.Sprintf("version %s, %s", version, plural(len(dl.Entries), "entry", "entries"))
	if len(dl.Entries) > 0 {
		c.Detail += " (" + listSome(dl.Entries, 4) + ")"
	}
	if !updated.IsZero() {
		c.Detail += ", saved " + stamp(updated, now)
	}
	if isFile {
		c.Detail += ", from " + path
	}

	if len(dl.Entries) == 0 {
		c.Status = Fail
		c.Detail += ": no web page may use cardbridge"
		where := "the DomainList file"
		if isFile {
			where = path
		}
		c.Fix = "add the origins of the pages that use the smartcard, one per line, to " + where + " (for example https://my.esr.nhs.uk)"
		if f.ps != nil {
			c.Fix += ", then " + fixRestartPortService(goos)
		}
		return c
	}

	// The agent's list should be the port service's.
	if f.ps != nil && ai != nil {
		if ap, own := strings.CutPrefix(ai.DomainList.Source, "file:"); own {
			c.Detail += fmt.Sprintf("; the agent uses its own list instead (--domains %s, version %s)", ap, ai.DomainList.Version)
		} else if ai.DomainList.Version != dl.Version || len(ai.DomainList.Entries) != len(dl.Entries) {
			c.Status = Warn
			c.Detail += fmt.Sprintf("; the agent still has version %s with %s", ai.DomainList.Version, plural(len(ai.DomainList.Entries), "entry", "entries"))
			c.Fix = fixRestartAgent(goos)
		}
	}

	if tu.URL == "" {
		c.Detail += "; kept by hand (no trusted URL)"
		return c
	}
	refresh := "the port service cannot refresh it: see the trusted URL line; it retries by itself, or to fetch at once " + fixRestartPortService(goos)
	confirmed := updated
	if tu.LastSuccess != nil && tu.LastSuccess.After(confirmed) {
		confirmed = *tu.LastSuccess
	}
	switch {
	case tu.DomainListVersion != "" && tu.DomainListVersion != dl.Version:
		c.Status = Warn
		c.Detail += "; stale: the trusted URL publishes version " + tu.DomainListVersion
		c.Fix = refresh
	case !confirmed.IsZero() && now.Sub(confirmed) > staleAfter:
		c.Status = Warn
		c.Detail += fmt.Sprintf("; stale: not refreshed from the trusted URL for %s", ago(now.Sub(confirmed)))
		c.Fix = refresh
	case tu.LastSuccess != nil:
		c.Detail += "; confirmed current by the trusted URL " + stamp(*tu.LastSuccess, now)
	}
	return c
}

func checkTrustedURL(f netFacts, now time.Time, goos string) Check {
	c := Check{ID: "trusted-url", Name: "trusted URL"}
	if f.ps == nil {
		c.Status, c.Detail = Skip, "not checked: the port service is not reachable"
		return c
	}
	tu := f.ps.info.TrustedURL
	if tu.URL == "" {
		c.Status, c.Detail = Info, "none configured: the DomainList changes only when an administrator edits it"
		return c
	}
	reachable := f.trustedProbed && f.trustedErr == nil
	unreachable := f.trustedProbed && f.trustedErr != nil
	network := fmt.Sprintf("check that %s is the right address (the port service's --trusted-url) and that this computer reaches it: open %s/api/versioninfo in a browser; check proxy, firewall and DNS; the port service retries by itself",
		tu.URL, strings.TrimRight(tu.URL, "/"))
	switch {
	case tu.Checked == nil && unreachable:
		c.Status = Warn
		c.Detail = fmt.Sprintf("%s: not checked by the port service yet, and doctor cannot reach it: %v", tu.URL, f.trustedErr)
		c.Fix = network
	case tu.Checked == nil:
		c.Status = Info
		c.Detail = tu.URL + ": not checked by the port service yet (it checks a few seconds after it starts, then every 4 hours)"
		if reachable {
			c.Detail += "; it answers doctor"
		}
	case tu.Error == "":
		c.Status = OK
		c.Detail = fmt.Sprintf("%s: answered the port service %s", tu.URL, stamp(*tu.Checked, now))
		if unreachable {
			c.Detail += fmt.Sprintf("; doctor cannot reach it from this session (%v), which matters only if that lasts", f.trustedErr)
		}
	case reachable:
		c.Status = Warn
		c.Detail = fmt.Sprintf("%s: the port service's last check (%s) failed: %s; it answers doctor now", tu.URL, stamp(*tu.Checked, now), tu.Error)
		c.Fix = "the port service retries by itself; if it keeps failing, its network or proxy settings differ from this user's (it runs as a system service); to retry at once, " + fixRestartPortService(goos)
	case tu.LastSuccess != nil && now.Sub(*tu.LastSuccess) < trustedGrace:
		c.Status = Warn
		c.Detail = fmt.Sprintf("%s: the last check (%s) failed: %s; it last answered %s; the cached DomainList stays in force", tu.URL, stamp(*tu.Checked, now), tu.Error, stamp(*tu.LastSuccess, now))
		c.Fix = network
	default:
		last := "never"
		if tu.LastSuccess != nil {
			last = stamp(*tu.LastSuccess, now)
		}
		c.Status = Fail
		c.Detail = fmt.Sprintf("%s: the port service cannot fetch it: %s (checked %s; last answered: %s); the cached DomainList stays in force", tu.URL, tu.Error, stamp(*tu.Checked, now), last)
		if unreachable {
			c.Detail += "; doctor cannot reach it either"
		}
		c.Fix = network
	}
	if tu.UpdateAvailable {
		c.Detail += fmt.Sprintf("; cardbridge %s is available (the port service is %s)", tu.LatestVersion, f.ps.info.Version)
	}
	return c
}

// listSome lists up to n items and says how many more there are.
func listSome(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:n], ", ") + fmt.Sprintf(" and %d more", len(items)-n)
}

// stamp says when t was, for a person on the phone: "2026-03-05 14:02 UTC,
// 3 hours ago".
func stamp(t, now time.Time) string {
	s := t.UTC().Format("2006-01-02 15:04 UTC")
	d := now.Sub(t)
	switch {
	case d < -time.Minute:
		return s + ", in the future"
	case d < time.Minute:
		return s + ", just now"
	}
	return s + ", " + ago(d) + " ago"
}

// ago rounds a duration to what a person would say: "3 days", "1 hour".
func ago(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return plural(int(d/(24*time.Hour)), "day", "days")
	case d >= time.Hour:
		return plural(int(d/time.Hour), "hour", "hours")
	case d >= time.Minute:
		return plural(int(d/time.Minute), "minute", "minutes")
	}
	return plural(int(d/time.Second), "second", "seconds")
}
