package harness

import "testing"

func TestSwitchFromEnv(t *testing.T) {
	for _, tc := range []struct {
		server, sig string
		want        Switch
		wantErr     bool
	}{
		{"", "", Switch{ServerMinIO, SignatureAuto, false}, false},
		{"minio", "v4", Switch{ServerMinIO, SignatureV4, false}, false},
		{"ceph", "", Switch{ServerCeph, SignatureAuto, false}, false},
		{"ceph", "v2", Switch{ServerCeph, SignatureV2, false}, false},
		{"aws", "", Switch{}, true},
		{"Ceph", "", Switch{}, true},
		{"ceph", "v3", Switch{}, true},
	} {
		t.Setenv("BUCKETFS_TEST_SERVER", tc.server)
		t.Setenv("BUCKETFS_TEST_SIGNATURE", tc.sig)
		got, err := SwitchFromEnv()
		if (err != nil) != tc.wantErr || !tc.wantErr && got != tc.want {
			t.Errorf("SwitchFromEnv with server %q, signature %q: got %v, %v; want %v (error %v)",
				tc.server, tc.sig, got, err, tc.want, tc.wantErr)
		}
	}
}
