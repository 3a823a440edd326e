package api

// Event is a message on the agent's event stream (GET /api/events): first
// a snapshot, then one message per change.
type Event struct {
	Type string `json:"type"` // "snapshot", "card-inserted", ...
	Seq  uint64 `json:"seq"`  // rising by one
	Time string `json:"time"` // RFC 3339, milliseconds
	// Reader is the reader a change happened in, and Card, on card-updated,
	// the card read there; a snapshot has neither.
	Reader string `json:"reader,omitempty"`
	Card   *Card  `json:"card,omitempty"`
	// PCSCAvailable and Readers are the snapshot's, which always has both
	// (Readers empty, not null, when there is none); a change has neither.
	PCSCAvailable *bool    `json:"pcscAvailable,omitempty"`
	Readers       []Reader `json:"readers,omitzero"`
}
