// MQTTPublisher reads a Smarty meter's P1 port, like OnlineDecryption, and
// publishes every telegram to an MQTT broker: one retained topic per
// reading, the whole telegram as JSON, an online/offline status, and Home
// Assistant discovery.
//
//	MQTTPublisher -keyFile smarty.key -device /dev/ttyUSB0
//	MQTTPublisher -keyFile smarty.key -device /dev/ttyUSB0 \
//	    -mqttBroker ssl://broker.lan:8883 -mqttCaFile ca.crt -mqttUser meter \
//	    -queueDir /var/lib/smarty-mqtt
//
// Reading never waits for the network: telegrams go to a queue (on disk
// with -queueDir) that a second goroutine publishes in order, reconnecting
// with backoff when the broker is away.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/golang/glog"

	"github.com/NEXXTLAB/go-smarty-reader/internal/cli"
	"github.com/NEXXTLAB/go-smarty-reader/internal/live"
	"github.com/NEXXTLAB/go-smarty-reader/internal/mqttpub"
	"github.com/NEXXTLAB/go-smarty-reader/smarty"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(cli.Exit(os.Stderr, err))
}

const name = "MQTTPublisher"

// PasswordEnv is the environment variable the broker password is read from
// when -mqttPassword is not given.
const PasswordEnv = "SMARTY_MQTT_PASSWORD"

// testHook, when set by a test, gets the Publisher once it exists.
var testHook func(*mqttpub.Publisher)

type mqttFlags struct {
	broker, root, user, password, clientID string
	qos                                    uint
	caFile, certFile, keyFile              string
	retain, discovery                      bool
	haPrefix                               string
	onlyOnChange                           bool
	heartbeat                              time.Duration
	queueDir                               string
	queueSize                              int
	grace                                  time.Duration
}

func addMQTTFlags(fs *flag.FlagSet) *mqttFlags {
	m := new(mqttFlags)
	fs.StringVar(&m.broker, "mqttBroker", "tcp://localhost:1883", "the broker's `URL`: tcp://host:port, ssl://host:port for TLS (also tls://, mqtts://),\nws:// or wss:// for websockets")
	fs.StringVar(&m.root, "mqttTopicRoot", "smarty", "first part of every `topic`; {meter} in it becomes the meter id (smarty/{meter}),\nso that several meters can share a broker")
	fs.UintVar(&m.qos, "mqttQos", 1, "MQTT quality of service `level`: 0, 1 or 2; with 1 or 2 nothing is lost while the broker is away")
	fs.StringVar(&m.user, "mqttUser", "", "user `name` for the broker")
	fs.StringVar(&m.password, "mqttPassword", "", "`password` for the broker; visible to other users in the process list,\nprefer $"+PasswordEnv+" (never logged)")
	fs.StringVar(&m.clientID, "mqttClientId", "", "MQTT client `id`; {meter} in it becomes the meter id (default smarty-{meter})")
	fs.StringVar(&m.caFile, "mqttCaFile", "", "PEM `file` of the certificate authority that signed the broker's certificate\n(default: the system's)")
	fs.StringVar(&m.certFile, "mqttCertFile", "", "PEM `file` of a client certificate, for brokers that require one")
	fs.StringVar(&m.keyFile, "mqttKeyFile", "", "PEM `file` of the client certificate's private key")
	fs.BoolVar(&m.retain, "mqttRetain", true, "retain the reading and telegram topics (-mqttRetain=false to turn off;\nstatus and discovery are always retained)")
	fs.BoolVar(&m.discovery, "haDiscovery", true, "publish Home Assistant MQTT discovery configs (-haDiscovery=false to turn off)")
	fs.StringVar(&m.haPrefix, "haPrefix", mqttpub.DefaultDiscoveryPrefix, "Home Assistant discovery `prefix`")
	fs.BoolVar(&m.onlyOnChange, "onlyOnChange", false, "publish a reading only when it changed, or when -heartbeat has passed since")
	fs.DurationVar(&m.heartbeat, "heartbeat", 5*time.Minute, "with -onlyOnChange, republish an unchanged reading after this `long` (0: never)")
	fs.StringVar(&m.queueDir, "queueDir", "", "keep telegrams not yet delivered in this `directory`, so that a restart or a crash\nloses none (default: in memory only)")
	fs.IntVar(&m.queueSize, "queueSize", 0, "most `telegrams` kept while the broker is away; the oldest are dropped past it\n(default 8640, a day, in memory; 60480, a week, with -queueDir)")
	fs.DurationVar(&m.grace, "grace", 2*time.Second, "at exit, keep publishing queued telegrams for up to this `long`")
	return m
}

// config turns the flags into a mqttpub.Config.
func (m *mqttFlags) config() (mqttpub.Config, error) {
	if m.qos > 2 {
		return mqttpub.Config{}, cli.Usagef("-mqttQos %d: use 0, 1 or 2", m.qos)
	}
	if m.queueSize < 0 {
		return mqttpub.Config{}, cli.Usagef("-queueSize %d: must be 0 (the default) or more", m.queueSize)
	}
	if m.heartbeat < 0 {
		return mqttpub.Config{}, cli.Usagef("-heartbeat %v: must be 0 or more", m.heartbeat)
	}
	password := m.password
	if password == "" {
		password = os.Getenv(PasswordEnv)
	}
	tc, err := mqttpub.LoadTLS(m.caFile, m.certFile, m.keyFile)
	if err != nil {
		return mqttpub.Config{}, cli.Usagef("%s", strings.TrimPrefix(err.Error(), "mqttpub: "))
	}
	broker, err := mqttpub.ParseBroker(m.broker)
	if err != nil {
		return mqttpub.Config{}, cli.Usagef("-mqttBroker: %s", strings.TrimPrefix(err.Error(), "mqttpub: "))
	}
	return mqttpub.Config{
		Broker:          broker,
		TopicRoot:       m.root,
		QoS:             byte(m.qos),
		Username:        m.user,
		Password:        password,
		ClientID:        m.clientID,
		TLS:             tc,
		NoRetain:        !m.retain,
		NoDiscovery:     !m.discovery,
		DiscoveryPrefix: m.haPrefix,
		OnlyOnChange:    m.onlyOnChange,
		Heartbeat:       m.heartbeat,
		QueueDir:        m.queueDir,
		QueueSize:       m.queueSize,
		Grace:           m.grace,
		Log:             cli.Logger("mqtt"),
	}, nil
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fset := cli.NewFlagSet(name, "[-key KEY | -keyFile FILE] -device PORT [-mqttBroker URL] [flags]\n\n"+
		"Reads the meter and publishes every telegram to an MQTT broker: one retained topic\n"+
		"per reading (<root>/1-0:1.8.0), the telegram as JSON (<root>/telegram), the status\n"+
		"(<root>/status: online/offline) and Home Assistant discovery.", stdout, stderr)
	flags := cli.AddLiveFlags(fset, "stop after `n` telegrams have been delivered to the broker (0: run until interrupted)")
	mf := addMQTTFlags(fset)
	c, done, err := flags.Parse(fset, args, stdout, stderr)
	if done || err != nil {
		return err // -list has printed the ports, or the command line is wrong
	}
	cfg, err := mf.config()
	if err != nil {
		return err
	}
	pub, err := mqttpub.New(cfg)
	if err != nil {
		if strings.Contains(err.Error(), "in use by another") {
			return errors.New(strings.TrimPrefix(err.Error(), "mqttpub: "))
		}
		return cli.Usagef("%s", strings.TrimPrefix(err.Error(), "mqttpub: "))
	}
	if testHook != nil {
		testHook(pub)
	}

	// A service: a device that is not there yet is waited for.
	st := live.New(cli.LiveConfig(flags.Device, *flags.Timeout, func(r io.Reader) *smarty.Reader { return flags.NewReader(r, c) }))

	// The publisher runs until reading stops (pubCtx), then flushes for
	// -grace; reading stops on Ctrl-C, -count, a device that cannot work,
	// or a publisher that cannot connect (readCtx).
	pubCtx, stopPub := context.WithCancel(context.Background())
	defer stopPub()
	readCtx, stopRead := context.WithCancel(ctx)
	defer stopRead()
	pubDone := make(chan error, 1)
	go func() {
		err := pub.Run(pubCtx)
		stopRead()
		pubDone <- err
	}()
	go st.ReportEvery(readCtx, live.DefaultReportInterval)
	go reportPublisher(readCtx, pub, live.DefaultReportInterval)

	readErr := read(readCtx, st, pub, flags.Device, *flags.Count)
	st.Close()
	stopPub()
	pubErr := <-pubDone
	s := pub.Stats()
	glog.Infof("mqtt at exit: %s", statsLine(s))
	glog.Flush()
	switch {
	case pubErr != nil:
		return errors.New(strings.TrimPrefix(pubErr.Error(), "mqttpub: "))
	case readErr != nil:
		return readErr
	}
	return nil
}

// read reads telegrams and queues them for the publisher until ctx is done,
// -count telegrams have been delivered, or the device fails for good.
func read(ctx context.Context, st *live.Stream, pub *mqttpub.Publisher, device string, count int) error {
	var keyCheck cli.KeyCheck
	decoded := 0
	for count == 0 || decoded < count {
		m, err := st.Next(ctx)
		var fe *smarty.FrameError
		switch {
		case errors.As(err, &fe):
			if n, wrongKey := keyCheck.AuthFailed(err, device); n > 0 {
				glog.V(1).Info(err)
				if wrongKey != nil {
					return wrongKey
				}
				if n == 1 {
					glog.Warningf("the frame at byte %d failed authentication; if the next %d fail too, the key is wrong",
						fe.Offset, cli.AuthFailuresToGiveUp-1)
				}
				continue
			}
			glog.Warning(cli.FrameMessage(err))
			continue
		case err != nil:
			if ctx.Err() != nil || errors.Is(err, live.ErrClosed) {
				return nil
			}
			if err == io.EOF {
				glog.Infof("%s has ended", device)
				return waitDelivered(ctx, pub)
			}
			return cli.DeviceError(err)
		}
		keyCheck.Decoded()
		decoded++
		if err := pub.AddMessage(m); err != nil {
			if errors.Is(err, mqttpub.ErrClosed) {
				return nil
			}
			// Logged by the publisher, once; the reading goes on.
			continue
		}
		if m.Encrypted {
			glog.V(2).Infof("queued telegram, frame counter %d", m.Header.FrameCounter)
		} else {
			glog.V(2).Infof("queued telegram")
		}
	}
	return waitDelivered(ctx, pub)
}

// waitDelivered waits until the publisher's queue is empty, for -count and
// for a file given as -device.
func waitDelivered(ctx context.Context, pub *mqttpub.Publisher) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for pub.Stats().Queued > 0 {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
	return nil
}

func statsLine(s mqttpub.Stats) string {
	return fmt.Sprintf("%d telegrams delivered, %d waiting in the queue, %d dropped from a full queue, %d connections",
		s.Published, s.Queued, s.Dropped, s.Connects)
}

// reportPublisher logs the publisher's counts every interval.
func reportPublisher(ctx context.Context, pub *mqttpub.Publisher, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			glog.Infof("mqtt: %s", statsLine(pub.Stats()))
		}
	}
}
