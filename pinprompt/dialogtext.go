package pinprompt

import (
	"errors"
	"strings"
)

// dialogText is what the Windows credential dialog shows for msg: its
// caption (the title) and its message. The message begins with the summary,
// which is all of it a dialog showing one line (Wine's) shows; then the
// wrong-PIN note, unless the summary is that note; then the description,
// which names the origin and the attempts left and, before the last one,
// warns that a wrong PIN blocks the card. A pinentry program is sent the
// same words: the title, the description and the error.
func dialogText(msg Message) (caption, message string) {
	parts := []string{msg.Summary}
	if msg.Error != "" && msg.Error != msg.Summary {
		parts = append(parts, msg.Error)
	}
	parts = append(parts, msg.Description)
	return msg.Title, strings.Join(parts, "\n\n")
}

// errPINCharacters: the dialog gives the card one byte for each character
// typed, so it takes only ASCII. SP 800-73-4 makes a PIV PIN 6 to 8 digits,
// but the card judges the PIN (piv.VerifyPIN takes 1 to 8 bytes and pads
// them with FF), as it does a pinentry program's: a card that takes letters
// gets them.
var errPINCharacters = errors.New("the PIN may hold only ASCII characters")

// pinBytes turns the NUL-terminated UTF-16 PIN from the dialog into bytes,
// without making a string that could not be wiped.
func pinBytes(w []uint16) ([]byte, error) {
	n := 0
	for n < len(w) && w[n] != 0 {
		if w[n] >= 0x80 {
			return nil, errPINCharacters
		}
		n++
	}
	pin := make([]byte, n)
	for i := range pin {
		pin[i] = byte(w[i])
	}
	return pin, nil
}
