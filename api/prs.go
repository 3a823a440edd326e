package api

// The NHS Port Service's answers, as pages and NHS client libraries read
// them: /PRS/ConnectPRService and /PRS/GetPortNumber.

// ConnectAnswer is the answer to GET /PRS/ConnectPRService. StatusCode is
// the JSON number 200: NHS's Port Service library accepts a port only when
// data.statusCode === 200.
type ConnectAnswer struct {
	StatusCode int `json:"statusCode"`
}

// PortNumberAnswer is the answer to GET /PRS/GetPortNumber: the calling
// user's agent port, or a fault. A fault is sent in both casings NHS
// clients read: faultException.code/message (the npm-style signing
// library) and FaultException.Code/Message (the Port Service library).
type PortNumberAnswer struct {
	PortData    *PortData    `json:"portData,omitempty"`
	Fault       *PortFault   `json:"faultException,omitempty"`
	LegacyFault *LegacyFault `json:"FaultException,omitempty"`
}

// PortData carries the agent's port.
type PortData struct {
	PortNumber int `json:"portNumber"`
}

// PortFault is a GetPortNumber fault as faultException.
type PortFault struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// LegacyFault is the same fault as FaultException.
type LegacyFault struct {
	Code    string `json:"Code"`
	Message string `json:"Message"`
}

// FaultNoAgent is the fault code when the calling user has no agent.
const FaultNoAgent = "PR30007"

// NewPortFault returns a GetPortNumber fault in both casings.
func NewPortFault(code, message string) PortNumberAnswer {
	return PortNumberAnswer{Fault: &PortFault{Code: code, Message: message}, LegacyFault: &LegacyFault{Code: code, Message: message}}
}

// NewPortNumber returns a GetPortNumber answer naming port.
func NewPortNumber(port int) PortNumberAnswer {
	return PortNumberAnswer{PortData: &PortData{PortNumber: port}}
}
