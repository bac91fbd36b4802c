package history

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

var decodeSamples = []string{
	`{"type":"invoke","op":17,"client":3,"f":"lock","name":"l0","time":1200,"value":{"lease":7587}}`,
	`{"type":"ok","op":17,"time":5400,"value":{"key":"l0/1da6","rev":912,"lease":7587}}`,
	`{"type":"invoke","op":18,"client":3,"f":"write","name":"l0","time":5500,"value":{"key":"l0/1da6","rev":912,"fenced":false,"data":"c3-1"}}`,
	`{"type":"ok","op":19,"time":6000,"value":{"key":"e0/1","value":"v","rev":3,"mod_rev":4}}`,
	`{"type":"ok","op":20,"time":6000,"value":{"none":true}}`,
	`{"type":"invoke","op":21,"client":2,"f":"lease-lost","name":"l1","time":7000,"value":{"lease":9,"last_alive":0}}`,
	`{"type":"fault","fault":"partition","phase":"start","time":9000,"detail":"{1} | {2,3}","member":1,"target":2,"lease":5}`,
	`{"type":"info","op":22,"time":9100,"error":"context deadline exceeded"}`,
	`{"type":"server","name":"l0","time":8120,"lease":7587,"role":"lock","event":"put","key":"/x/lock/l0/1da6","rev":912,"create_rev":912,"value":""}`,
	`{"type":"server","name":"l0","time":9400,"role":"lock","event":"delete","key":"/x/lock/l0/1da6","rev":930,"create_rev":912}`,
	`{"type":"server","name":"e0","time":9900,"detail":"compacted","role":"election","event":"gap","from_rev":931,"to_rev":1200}`,
	`{"type":"ok","op":23,"time":9950,"value":{"key":"l0/1da6","rev":912,"header_rev":940}}`,
	`{"type":"invoke","op":24,"client":100003,"f":"keepalive","time":9960,"value":{"lease":7587,"granted_ttl":2}}`,
	`{"type":"ok","op":24,"time":9970,"value":{"lease":7587,"ttl":2}}`,
	`{"type":"ok","op":25,"time":9980,"value":{"lease":7587,"ttl":0,"granted_ttl":2}}`,
	`{"type":"ok","op":26,"time":9990,"value":{"lease":7587,"ttl":-1}}`,
	`{"type":"invoke","op":27,"client":3,"f":"attach","time":9991,"value":{"lease":7587,"keys":1000}}`,
	`{"type":"ok","op":28,"time":9992,"value":{"lease":7587,"ttl":2,"granted_ttl":2,"keys":0}}`,
	`{"type":"ok","op":29,"time":9993,"value":{"lease":7587,"ttl":2,"granted_ttl":2,"keys":600,"keys_from":400}}`,
	// These take the slow path: whitespace, escapes, unicode, unknown fields, odd numbers.
	`{ "type": "ok", "op": 1, "time": 2 }`,
	`{"type":"info","op":22,"time":9100,"error":"quote \" inside"}`,
	`{"type":"info","op":22,"time":9100,"error":"é"}`,
	`{"type":"ok","op":1,"time":2,"extra":{"a":[1,2]}}`,
	`{"type":"ok","op":01,"time":2}`,
	`{"type":"ok","op":1.5,"time":2}`,
	`{"type":"ok","op":1,"time":-0}`,
	`{"type":"ok","op":1,"time":2,"value":{"fenced":null}}`,
	`{"type":"ok","op":99999999999999999999,"time":2}`,
	`{"type":"ok","op":1,"time":2,"value":{"lease":1},"value":{"rev":2}}`,
	`{"type":"server","name":"l0","time":1, "role":"data","event":"put","key":"/x/res/l0","rev":9,"create_rev":3,"value":"c\u00e9"}`,
}

// The fast path must agree with encoding/json on every line it accepts.
func TestFastDecodeAgreesWithEncodingJSON(t *testing.T) {
	for _, line := range decodeSamples {
		checkDecodeAgrees(t, []byte(line))
	}
	var fast Event
	require.True(t, fastDecodeEvent([]byte(decodeSamples[2]), &fast), "the recorder's own lines take the fast path")
	require.False(t, fastDecodeEvent([]byte(`{ "type": "ok", "op": 1, "time": 2 }`), &fast), "whitespace takes the slow path")
}

func checkDecodeAgrees(t *testing.T, line []byte) {
	var want, got Event
	wantErr := json.Unmarshal(line, &want)
	gotErr := decodeEvent(line, &got)
	if wantErr != nil {
		require.Error(t, gotErr, "%s", line)
		return
	}
	require.NoError(t, gotErr, "%s", line)
	require.Equal(t, want, got, "%s", line)
}

func FuzzDecodeEvent(f *testing.F) {
	for _, s := range decodeSamples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var fast Event
		if !fastDecodeEvent(line, &fast) {
			return
		}
		var want Event
		require.NoError(t, json.Unmarshal(line, &want), "fast path accepted invalid JSON %q", line)
		require.Equal(t, want, fast, "%q", line)
	})
}
