package doctor

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/cardbridge/cardbridge/domainlist"
)

// Local Network Access: Chrome 142+ asks the user before a public page may
// reach loopback unless a policy lets the page's origin through. Chromium
// (Chrome and Edge) weighs four list policies, the first that matches an
// origin deciding; versions before 146 know only the last two.
var lnaPolicies = []struct {
	name  string
	allow bool
}{
	{"LoopbackNetworkBlockedForUrls", false},
	{"LoopbackNetworkAllowedForUrls", true},
	{"LocalNetworkAccessBlockedForUrls", false},
	{"LocalNetworkAccessAllowedForUrls", true},
}

// Policy names doctor suggests setting when none lets the DomainList's
// origins through: Chrome's since 142, and Edge's narrower loopback-only
// one (Edge 146+).
const (
	chromeLNAPolicy = "LocalNetworkAccessAllowedForUrls"
	edgeLNAPolicy   = "LoopbackNetworkAllowedForUrls"
)

// lnaPolicy is the allow-list policy doctor suggests for b.
func lnaPolicy(b Browser) string {
	if b.ID == "edge" {
		return edgeLNAPolicy
	}
	return chromeLNAPolicy
}

// checkBrowsers gives two hints per browser: whether the DomainList's
// origins may reach cardbridge without a prompt, and whether cookies for
// localhost are blocked. Hints are warnings at worst, never failures.
func checkBrowsers(brs []Browser, entries []string, goos string) []Check {
	if len(brs) == 0 {
		return []Check{{ID: "browsers", Name: "browsers", Status: Info, Detail: "no Chrome, Chromium or Edge found; other browsers are not checked"}}
	}
	var out []Check
	for _, b := range brs {
		out = append(out, checkLNA(b, entries, goos), checkCookies(b, goos))
	}
	return out
}

// wantedPattern is the policy pattern for a DomainList entry.
func wantedPattern(p domainlist.Pattern) string {
	s := p.Scheme + "://"
	if p.Wildcard {
		s += "[*.]"
	}
	s += p.Host
	if p.Port != 0 {
		s += fmt.Sprintf(":%d", p.Port)
	}
	return s
}

func checkLNA(b Browser, entries []string, goos string) Check {
	c := Check{ID: "browser-lna-" + b.ID, Name: b.Name + ": local network"}
	lists := make([][]string, len(lnaPolicies))
	var allowSet []string // allow-list policies that are set, by precedence
	anySet := false
	for i, pol := range lnaPolicies {
		var set bool
		lists[i], set = b.Policies.List(pol.name)
		anySet = anySet || set
		if set && pol.allow {
			allowSet = append(allowSet, pol.name)
		}
	}
	if b.Err != nil && !anySet {
		c.Status = Info
		c.Detail = "cannot read its policies: " + b.Err.Error()
		c.Fix = "look for " + lnaPolicy(b) + " at " + policyPage(b) + " on this computer"
		return c
	}
	var want, missing, blocked []string
	allowedBy := map[string]bool{}
	var blockFix []string
	for _, e := range entries {
		p, err := domainlist.ParsePattern(e)
		if err != nil {
			continue
		}
		w := wantedPattern(p)
		want = append(want, w)
		decided := false
		for i, pol := range lnaPolicies {
			if pol.allow {
				if anyCovers(lists[i], p.Scheme, p.Host, p.Wildcard, p.Port) != "" {
					allowedBy[pol.name], decided = true, true
					break
				}
				continue
			}
			if bp := anyTouches(lists[i], p.Scheme, p.Host, p.Wildcard, p.Port); bp != "" {
				blocked = append(blocked, fmt.Sprintf("%s (by %q in %s)", w, bp, pol.name))
				blockFix = append(blockFix, fmt.Sprintf("take %q out of the %s policy %s", bp, b.Name, pol.name))
				decided = true
				break
			}
		}
		if !decided {
			missing = append(missing, w)
		}
	}
	switch {
	case len(blocked) > 0:
		c.Status = Warn
		c.Detail = "policy blocks local network access for " + strings.Join(blocked, ", ") + ": pages there cannot reach cardbridge"
		c.Fix = strings.Join(dedupe(blockFix), "; ") + "; restart the browser and check " + policyPage(b)
	case len(allowSet) == 0:
		policy := lnaPolicy(b)
		c.Status = Warn
		c.Detail = policy + " is not set: users will be asked to allow local network access for each site (" + listSome(want, 3) + ")"
		c.Fix = setListPolicy(goos, b, policy, want, false)
	case len(missing) > 0:
		// Extend the list already in use, the suggested one if both are.
		policy := allowSet[0]
		if len(allowSet) > 1 {
			policy = lnaPolicy(b)
		}
		c.Status = Warn
		c.Detail = fmt.Sprintf("%s does not cover %s: users will be asked to allow local network access there", strings.Join(allowSet, " and "), strings.Join(missing, ", "))
		c.Fix = setListPolicy(goos, b, policy, missing, true)
	default:
		var used, allowed []string
		for i, pol := range lnaPolicies {
			if allowedBy[pol.name] {
				used = append(used, pol.name)
				allowed = append(allowed, lists[i]...)
			}
		}
		c.Status = OK
		verb := " allows "
		if len(used) > 1 {
			verb = " allow "
		}
		c.Detail = strings.Join(used, " and ") + verb + listSome(allowed, 4)
	}
	return c
}

// dedupe drops repeated strings, keeping the first of each.
func dedupe(ss []string) []string {
	seen := map[string]bool{}
	out := ss[:0:0]
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// localhostURLs are the hosts pages reach cardbridge at.
var localhostURLs = []string{"localhost", "127.0.0.1"}

func checkCookies(b Browser, goos string) Check {
	c := Check{ID: "browser-cookies-" + b.ID, Name: b.Name + ": cookies"}
	allowed, _ := b.Policies.List("CookiesAllowedForUrls")
	blocked, _ := b.Policies.List("CookiesBlockedForUrls")
	def, defSet := b.Policies.Int("DefaultCookiesSetting")
	block3p, _ := b.Policies.Bool("BlockThirdPartyCookies")
	allowedAll := true
	blockedBy := ""
	for _, h := range localhostURLs {
		if anyCovers(allowed, "http", h, false, 0) == "" {
			allowedAll = false
			if p := anyCovers(blocked, "http", h, false, 0); p != "" && blockedBy == "" {
				blockedBy = p
			}
		}
	}
	fix := "cardbridge needs no cookies; if an older page written for NHS Credential Management says the software is not installed or not running, " +
		setListPolicy(goos, b, "CookiesAllowedForUrls", []string{"[*.]localhost", "127.0.0.1"}, true)
	switch {
	case b.Err != nil && len(b.Policies) == 0:
		c.Status, c.Detail = Info, "cannot read its policies: "+b.Err.Error()
		c.Fix = "look for BlockThirdPartyCookies and CookiesBlockedForUrls at " + policyPage(b) + " on this computer"
	case allowedAll:
		c.Status, c.Detail = OK, "CookiesAllowedForUrls allows localhost"
	case defSet && def == 2:
		c.Status, c.Detail, c.Fix = Warn, "DefaultCookiesSetting blocks every cookie, localhost's included", fix
	case blockedBy != "":
		c.Status, c.Detail, c.Fix = Warn, fmt.Sprintf("CookiesBlockedForUrls blocks cookies for localhost (%q)", blockedBy), fix
	case block3p:
		c.Status, c.Detail, c.Fix = Info, "BlockThirdPartyCookies is on, so pages cannot use cookies of localhost", fix
	default:
		c.Status, c.Detail = OK, "no policy blocks cookies for localhost"
	}
	return c
}

// setListPolicy says how to set (or, with add, extend) a list policy on
// goos for b.
func setListPolicy(goos string, b Browser, policy string, values []string, add bool) string {
	js, _ := json.Marshal(values)
	verb := "set the " + b.Name + " policy " + policy + " to " + string(js)
	if add {
		verb = "add " + strings.Join(quoteAll(values), ", ") + " to the " + b.Name + " policy " + policy
	}
	var how string
	switch osOf(goos) {
	case "linux":
		where := b.Where
		if where == "" {
			where = "the browser's policies/managed directory"
		}
		how = fmt.Sprintf("in a JSON file in %s (for example cardbridge.json with {%q: %s})", where, policy, js)
	case "windows":
		where := b.Where
		if where == "" {
			where = `HKLM\SOFTWARE\Policies\...`
		}
		if add {
			how = fmt.Sprintf("with Group Policy, or in the registry under %s\\%s as string values named with the next free numbers, then gpupdate /force", where, policy)
		} else {
			var vals []string
			for i, v := range values {
				vals = append(vals, fmt.Sprintf("%q=%q", fmt.Sprint(i+1), v))
			}
			how = fmt.Sprintf("with Group Policy, or in the registry as string values %s under %s\\%s, then gpupdate /force", strings.Join(vals, ", "), where, policy)
		}
	case "darwin":
		how = "in a configuration profile for the preference domain " + b.Where + " (through your device management)"
	default:
		how = "in the browser's managed policies"
	}
	return verb + " " + how + "; restart the browser and check " + policyPage(b)
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}
