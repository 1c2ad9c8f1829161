package harness

import (
	"fmt"
	"os"
)

// Server kinds for Server.Kind and BUCKETFS_TEST_SERVER.
const (
	ServerMinIO = "minio" // MinIO, the pinned version (test/minio-path.sh)
	ServerCeph  = "ceph"  // Ceph RADOS Gateway 16.2 (test/ceph/start.sh)
)

// Signature versions for BUCKETFS_TEST_SIGNATURE, spelled as bucketfs's
// --signature option spells them.
const (
	SignatureAuto = "auto"
	SignatureV2   = "v2"
	SignatureV4   = "v4"
)

// Switch is what the end-to-end suite runs against: the server
// (BUCKETFS_TEST_SERVER=minio|ceph, default minio) and the signature
// version every mount and the suite's own client sign with
// (BUCKETFS_TEST_SIGNATURE=auto|v2|v4, default auto).
type Switch struct {
	Server    string
	Signature string
	// TLS (BUCKETFS_TEST_TLS=1) serves HTTPS with a certificate made for
	// the run; mounts trust it through --ca-file.
	TLS bool
}

// SwitchFromEnv reads the switch from the environment. Unknown values are
// an error, never a silent fallback to the default.
func SwitchFromEnv() (Switch, error) {
	sw := Switch{Server: os.Getenv("BUCKETFS_TEST_SERVER"), Signature: os.Getenv("BUCKETFS_TEST_SIGNATURE")}
	switch sw.Server {
	case "":
		sw.Server = ServerMinIO
	case ServerMinIO, ServerCeph:
	default:
		return sw, fmt.Errorf("BUCKETFS_TEST_SERVER=%q: want %s or %s", sw.Server, ServerMinIO, ServerCeph)
	}
	switch sw.Signature {
	case "":
		sw.Signature = SignatureAuto
	case SignatureAuto, SignatureV2, SignatureV4:
	default:
		return sw, fmt.Errorf("BUCKETFS_TEST_SIGNATURE=%q: want %s, %s or %s", sw.Signature, SignatureAuto, SignatureV2, SignatureV4)
	}
	switch v := os.Getenv("BUCKETFS_TEST_TLS"); v {
	case "", "0":
	case "1":
		sw.TLS = true
	default:
		return sw, fmt.Errorf("BUCKETFS_TEST_TLS=%q: want 1 or 0", v)
	}
	return sw, nil
}

// String is how the switch is written in logs: "ceph/v2".
func (sw Switch) String() string {
	if sw.TLS {
		return sw.Server + "/" + sw.Signature + "/tls"
	}
	return sw.Server + "/" + sw.Signature
}

// StartServer starts the server BUCKETFS_TEST_SERVER names (see
// SwitchFromEnv).
func StartServer() (*Server, error) {
	sw, err := SwitchFromEnv()
	if err != nil {
		return nil, err
	}
	if !sw.TLS {
		switch sw.Server {
		case ServerMinIO:
			return StartMinIO()
		case ServerCeph:
			return StartCeph()
		}
		return nil, fmt.Errorf("unknown server %q", sw.Server)
	}
	certs, err := os.MkdirTemp("", "bucketfs-certs-")
	if err != nil {
		return nil, err
	}
	if _, err := SelfSignedCert(certs); err != nil {
		os.RemoveAll(certs)
		return nil, err
	}
	var s *Server
	switch sw.Server {
	case ServerMinIO:
		s, err = StartMinIOWith(MinIOOptions{CertsDir: certs})
	case ServerCeph:
		s, err = StartCephWith(CephOptions{CertsDir: certs})
	default:
		err = fmt.Errorf("unknown server %q", sw.Server)
	}
	if err != nil {
		os.RemoveAll(certs)
		return nil, err
	}
	stop := s.stop
	s.stop = func() error {
		err := stop()
		os.RemoveAll(certs)
		return err
	}
	return s, nil
}
