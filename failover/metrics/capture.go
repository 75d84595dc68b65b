package metrics

import "time"

// Capture metrics (lifeboat capture), beside lifeboat_last_run_*{job="capture"};
// documented in the package comment.
const (
	CaptureLastSuccessTimestamp = "lifeboat_capture_last_success_timestamp_seconds"
	CaptureDuration             = "lifeboat_capture_duration_seconds"
	CaptureSize                 = "lifeboat_capture_size_bytes"

	JobCapture = "capture"
)

func init() {
	Help[CaptureLastSuccessTimestamp] = "When the last capture succeeded, in Unix time."
	Help[CaptureDuration] = "How long the last successful capture took, in seconds."
	Help[CaptureSize] = "Size of the last captured archive, in bytes."
}

// Capture returns the samples of the last successful capture: when it
// finished, how long it took, the archive's size, labelled with its source
// (pg_dump, heroku).
func Capture(app, source string, finished time.Time, seconds float64, size int64) []Sample {
	return []Sample{
		gauge(CaptureLastSuccessTimestamp, unix(finished), "app", app, "source", source),
		gauge(CaptureDuration, seconds, "app", app, "source", source),
		gauge(CaptureSize, float64(size), "app", app, "source", source),
	}
}
