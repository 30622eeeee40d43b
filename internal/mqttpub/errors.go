package mqttpub

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// Errors a connection attempt can fail with, wrapped by *ConnectError so
// that errors.Is works through it.
var (
	// ErrAuth: the broker refused the user name, the password or the
	// client id.
	ErrAuth = errors.New("mqttpub: the broker refused the credentials")
	// ErrTLS: the TLS handshake failed: an untrusted or wrong
	// certificate, or a broker that wants a client certificate.
	ErrTLS = errors.New("mqttpub: TLS handshake failed")
	// ErrUnreachable: the broker could not be reached or went away; a
	// retry may succeed.
	ErrUnreachable = errors.New("mqttpub: broker unreachable")
	// ErrQueueLocked: the queue directory is in use by another running
	// Publisher; New fails with a *QueueLockedError that wraps it.
	ErrQueueLocked = errors.New("mqttpub: queue directory in use")
)

// QueueLockedError is New's error for a queue directory that another
// running Publisher holds.
type QueueLockedError struct{ Dir string }

func (e *QueueLockedError) Error() string {
	return fmt.Sprintf("mqttpub: queue directory %s is in use by another running publisher", e.Dir)
}

// Unwrap returns ErrQueueLocked.
func (e *QueueLockedError) Unwrap() error { return ErrQueueLocked }

// Cause is why a connection attempt failed, finer than Kind: the command
// layer picks what to tell the user (which flag to change) by it.
type Cause int

// The causes of a *ConnectError.
const (
	CauseOther         Cause = iota // anything else; see Err
	CauseCredentials                // wrong user name or password
	CauseNotAuthorised              // refused as not authorised
	CauseClientID                   // the client id was rejected
	CauseProtocol                   // the broker does not speak MQTT 3.1.1
	CauseUnavailable                // the broker says it is unavailable
	CauseUnknownCA                  // the certificate's authority is not trusted
	CauseCertificate                // the certificate is not valid for this broker
	CauseTLSRefused                 // the broker refused the handshake (a client certificate?)
	CauseNotTLS                     // the port does not speak TLS
	CauseRefused                    // connection refused
	CauseDNS                        // the host name does not resolve
	CauseClosed                     // closed during the handshake (a TLS port?)
	CauseTimeout                    // no answer
)

// ConnectError says why a connection to the broker failed, and what to do
// about it.
type ConnectError struct {
	Broker string
	// Kind is ErrAuth, ErrTLS or ErrUnreachable.
	Kind error
	// Cause says more precisely what failed.
	Cause Cause
	// Reason is a sentence for a human; it names no command-line flag.
	Reason string
	// Err is the error paho or the network returned.
	Err error
	// cause names the case of explain that matched, without the details
	// (addresses, ports) that change from one attempt to the next.
	cause string
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("mqttpub: cannot connect to %s: %s", e.Broker, e.Reason)
}

// Unwrap returns both the kind and the underlying error.
func (e *ConnectError) Unwrap() []error { return []error{e.Kind, e.Err} }

// Fatal reports whether retrying cannot help until the configuration
// changes: refused credentials, a certificate that is not trusted.
func (e *ConnectError) Fatal() bool { return e.Kind == ErrAuth || e.Kind == ErrTLS }

// explain turns an error of a connection attempt into a *ConnectError.
func explain(broker, clientID string, err error) *ConnectError {
	ce := &ConnectError{Broker: broker, Err: err, Kind: ErrUnreachable}
	var (
		unknownCA   x509.UnknownAuthorityError
		hostErr     x509.HostnameError
		invalidCert x509.CertificateInvalidError
		verifyErr   *tls.CertificateVerificationError
		opErr       *net.OpError
		recHdr      tls.RecordHeaderError
		dnsErr      *net.DNSError
		netErr      net.Error
	)
	switch {
	case errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword):
		ce.Kind, ce.Cause, ce.Reason = ErrAuth, CauseCredentials, "the broker refused the user name or password"
	case errors.Is(err, packets.ErrorRefusedNotAuthorised):
		ce.Kind, ce.Cause, ce.Reason = ErrAuth, CauseNotAuthorised, "the broker refused the connection as not authorised: wrong user name or password, or a user that may not connect (check the broker's ACL)"
	case errors.Is(err, packets.ErrorRefusedIDRejected):
		ce.Kind, ce.Cause, ce.Reason = ErrAuth, CauseClientID, fmt.Sprintf("the broker rejected the client id %q", clientID)
	case errors.Is(err, packets.ErrorRefusedBadProtocolVersion):
		ce.Kind, ce.Cause, ce.Reason = ErrAuth, CauseProtocol, "the broker does not accept MQTT 3.1.1"
	case errors.Is(err, packets.ErrorRefusedServerUnavailable):
		ce.Cause, ce.Reason = CauseUnavailable, "the broker says it is unavailable"
	case errors.As(err, &unknownCA):
		ce.Kind, ce.Cause, ce.Reason = ErrTLS, CauseUnknownCA, "the broker's certificate is signed by an authority this machine does not trust"
	case errors.As(err, &hostErr):
		ce.Kind, ce.Cause, ce.Reason = ErrTLS, CauseCertificate, fmt.Sprintf("the broker's certificate is not valid for this address (%v): connect by a name the certificate lists", hostErr)
	case errors.As(err, &invalidCert):
		ce.Kind, ce.Cause, ce.Reason = ErrTLS, CauseCertificate, fmt.Sprintf("the broker's certificate is not valid: %v", invalidCert)
	case errors.As(err, &verifyErr):
		ce.Kind, ce.Cause, ce.Reason = ErrTLS, CauseCertificate, fmt.Sprintf("the broker's certificate does not verify: %v", verifyErr.Err)
	case errors.As(err, &opErr) && opErr.Op == "remote error":
		// A TLS alert from the broker: crypto/tls reports those as a
		// net.OpError with this Op.
		ce.Kind, ce.Cause, ce.Reason = ErrTLS, CauseTLSRefused, fmt.Sprintf("the broker refused the TLS handshake (%v)", opErr.Err)
	case errors.As(err, &recHdr):
		ce.Kind, ce.Cause, ce.Reason = ErrTLS, CauseNotTLS, "the broker does not speak TLS on this port: use tcp:// for a plain port, or the broker's TLS port (often 8883)"
	case errors.Is(err, syscall.ECONNREFUSED):
		ce.Cause, ce.Reason = CauseRefused, "connection refused (is the broker running, and listening on this port?)"
	case errors.As(err, &dnsErr):
		ce.Cause, ce.Reason = CauseDNS, fmt.Sprintf("cannot resolve the host name %q", dnsErr.Name)
	case errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET):
		ce.Cause, ce.Reason = CauseClosed, fmt.Sprintf("the broker closed the connection during the handshake (%v); if this is a TLS port, use ssl://", rootCause(err))
	case errors.As(err, &netErr) && netErr.Timeout():
		ce.Cause, ce.Reason = CauseTimeout, "no answer from the broker (timeout)"
	default:
		ce.Reason = rootCause(err).Error()
	}
	ce.cause = ce.Reason
	if i := strings.IndexByte(ce.Reason, '('); i > 0 {
		ce.cause = ce.Reason[:i]
	}
	return ce
}

// rootCause strips paho's "network Error : " from an error made by joining
// its sentinel and the network's error.
func rootCause(err error) error {
	if u, ok := err.(interface{ Unwrap() []error }); ok {
		if errs := u.Unwrap(); len(errs) > 0 {
			return errs[len(errs)-1]
		}
	}
	return err
}
