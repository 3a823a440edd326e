package policy

import (
	"github.com/cardbridge/cardbridge/api"
	"github.com/rs/zerolog"
)

// Log logs the settings an administrator's policy imposes, and the
// policies ignored as wrong.
func Log(log zerolog.Logger, settings []api.Setting, problems []string) {
	for _, st := range settings {
		if st.Source == "policy" {
			log.Info().Str("setting", st.Name).Str("value", st.Value).Str("policy", st.Where).Msg("setting imposed by policy")
		}
	}
	for _, p := range problems {
		log.Warn().Str("problem", p).Msg("ignoring a policy")
	}
}
