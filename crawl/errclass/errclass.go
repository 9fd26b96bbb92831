package errclass

// Class is a stable fetch outcome class. Its values never change meaning;
// new classes may be added (and then to the proto enum and internal/wire).
type Class string

// The classes. See the package documentation for which are transient.
const (
	OK                Class = "ok"
	HTTP4xx           Class = "http_4xx"
	HTTP429           Class = "http_429"
	HTTP5xx           Class = "http_5xx"
	RobotsDisallowed  Class = "robots_disallowed"
	RobotsUnavailable Class = "robots_unavailable"
	Timeout           Class = "timeout"
	ConnRefused       Class = "conn_refused"
	ConnReset         Class = "conn_reset"
	DNSNotFound       Class = "dns_not_found"
	DNSTemporary      Class = "dns_temporary"
	TooManyRedirects  Class = "too_many_redirects"
	TLS               Class = "tls"
	InvalidURL        Class = "invalid_url"
	BlockedAddress    Class = "blocked_address"
	Protocol          Class = "protocol"
	Canceled          Class = "canceled"
	Other             Class = "other"
)

// all is the canonical order (metrics pre-registration, documentation).
var all = [...]Class{
	OK, HTTP4xx, HTTP429, HTTP5xx,
	RobotsDisallowed, RobotsUnavailable,
	Timeout, ConnRefused, ConnReset,
	DNSNotFound, DNSTemporary,
	TooManyRedirects, TLS, InvalidURL, BlockedAddress, Protocol,
	Canceled, Other,
}

// All returns every class in a stable order, as a fresh slice.
func All() []Class { return append([]Class(nil), all[:]...) }

// Transient reports whether a fetch that ended in c is worth retrying
// later. OK and the permanent classes return false. Canceled is transient:
// the fetch did not happen. Unknown classes are treated like Other, so a
// newer peer's class never makes a URL final for good.
func (c Class) Transient() bool {
	switch c {
	case OK, HTTP4xx, RobotsDisallowed, DNSNotFound, TooManyRedirects, TLS, InvalidURL, BlockedAddress:
		return false
	}
	return true
}

// Valid reports whether c is one of the defined classes.
func (c Class) Valid() bool {
	for _, k := range all {
		if c == k {
			return true
		}
	}
	return false
}

// Parse converts a stored string back to a Class. Unknown strings
// (including "") map to Other, so old rows and newer peers degrade to
// "transient, retry later" rather than failing.
func Parse(s string) Class {
	if c := Class(s); c.Valid() {
		return c
	}
	return Other
}

// ForStatus maps a final HTTP status code to its class. Codes outside
// 200..599 (1xx, or a 3xx that was not followed) are Other.
func ForStatus(status int) Class {
	switch {
	case status >= 200 && status < 300:
		return OK
	case status == 429:
		return HTTP429
	case status >= 400 && status < 500:
		return HTTP4xx
	case status >= 500 && status < 600:
		return HTTP5xx
	}
	return Other
}
