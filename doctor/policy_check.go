package doctor

import (
	"fmt"
	"strings"

	"github.com/cardbridge/cardbridge/policy"
)

// policyWhere names where the administrator's policies for cardbridge live
// on goos.
func policyWhere(goos string) string {
	switch osOf(goos) {
	case "windows":
		return `HKLM\` + policy.Key + ` (Group Policy, cardbridge.admx)`
	case "darwin":
		return "the managed preferences of org.cardbridge (a configuration profile)"
	}
	return "/etc/cardbridge/policy.json and /etc/cardbridge/policy.d"
}

// checkPolicy lists the settings the administrator's policies impose, which
// beat the programs' flags and environment, and warns of policies ignored
// as wrong.
func checkPolicy(pol *policy.Set, goos string) Check {
	c := Check{ID: "policy", Name: "Administrator policy", Status: OK}
	vals := pol.Values()
	var set []string
	for _, v := range vals {
		set = append(set, fmt.Sprintf("%s = %s (%s)", v.Setting.Name, v.String(), v.Where))
	}
	switch {
	case len(vals) == 0:
		c.Detail = "no policy sets cardbridge's settings (" + policyWhere(goos) + ")"
	default:
		c.Detail = "set by policy, over flags and environment: " + strings.Join(set, "; ")
	}
	if len(pol.Problems) > 0 {
		c.Status = Warn
		c.Detail += "; ignored: " + strings.Join(pol.Problems, "; ")
		c.Fix = "correct or remove the policies named, in " + policyWhere(goos) + "; the settings they would set keep their other values"
	}
	return c
}
