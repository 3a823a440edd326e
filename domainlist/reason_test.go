package domainlist

import (
	"strings"
	"testing"
)

// Reason names what is wrong with a line and never quotes it: a file that is
// not a DomainList (another user's secret, say) must not reach the log.
func TestLineErrorReasonQuotesNothing(t *testing.T) {
	const mark = "qzx"
	tests := []struct {
		line string
		want error
	}{
		{"qzxroot:$6$qzxhash:19000:0:99999:7:::", errNoScheme},
		{"qzx://my.esr.nhs.uk", errScheme},
		{"https:qzx.nhs.uk", errNoSlashes},
		{"https://qzx.nhs.uk/qzx", errPath},
		{"https://qzx..nhs.uk", errEmptyLabel},
		{"https://qzx_.nhs.uk", errHostChar},
		{"https://qzx.nhs.uk:99999", errPortRange},
		{"https://qzx.nhs.uk:qzx", errPortNotNumber},
		{"https://*.qzx", errWildcardShort},
		{"https://qzx\u200d.nhs.uk", errIDN},
		{"https://[qzx::1]", errBadIPv6},
		{"http://qzx.123", errBadIPv4},
		{"https://-qzx.nhs.uk", errLabelHyphen},
		{"https://qzx.nhs.uk.", errTrailingDot},
		{"https://xn--qzx-.nhs.uk", errLabelHyphen},
		{"https://xn--zz" + mark + "\u00e9.nhs.uk", errIDN},
		{"https://qzx user@x.nhs.uk", errSpace},
		{"# version: " + strings.Repeat(mark, 100), errVersionTooLong},
		{"https://" + strings.Repeat(mark, 700), errLineTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.line[:min(len(tt.line), 40)], func(t *testing.T) {
			_, errs := Parse([]byte(tt.line + "\n"))
			if len(errs) != 1 {
				t.Fatalf("Parse found %d bad lines, want 1: %v", len(errs), errs)
			}
			got := errs[0].Reason()
			if got != tt.want.Error() {
				t.Errorf("Reason() = %q, want %q (Error() = %q)", got, tt.want.Error(), errs[0].Error())
			}
			if strings.Contains(got, mark) {
				t.Errorf("Reason() = %q quotes the line", got)
			}
		})
	}
	t.Run("a public suffix", func(t *testing.T) {
		_, errs := Parse([]byte("https://*.co.uk\n"))
		if len(errs) != 1 || errs[0].Reason() != errPublicSuffix.Error() {
			t.Errorf("Parse errors %v, want one whose Reason is %q", errs, errPublicSuffix)
		}
	})
	t.Run("lines not listed", func(t *testing.T) {
		_, errs := Parse([]byte(strings.Repeat("qzx\n", maxLineErrors+5)))
		if last := errs[len(errs)-1]; last.Reason() != errUnlisted.Error() {
			t.Errorf("last error %v has Reason %q, want %q", last, last.Reason(), errUnlisted)
		}
	})
}
