package dsmrfeed

import "github.com/prometheus/client_golang/prometheus"

var (
	descClients  = prometheus.NewDesc("smarty_dsmr_feed_clients", "Clients connected to the DSMR feed now.", nil, nil)
	descAccepted = prometheus.NewDesc("smarty_dsmr_feed_accepted_total", "Clients the DSMR feed accepted.", nil, nil)
	descRefused  = prometheus.NewDesc("smarty_dsmr_feed_refused_total", "Connections the DSMR feed refused: not from an allowed network, or too many clients.", nil, nil)
	descSent     = prometheus.NewDesc("smarty_dsmr_feed_sent_total", "Telegrams written to DSMR feed clients, summed over the clients.", nil, nil)
	descDropped  = prometheus.NewDesc("smarty_dsmr_feed_dropped_total", "Telegrams dropped for DSMR feed clients that did not keep up.", nil, nil)
	descStalled  = prometheus.NewDesc("smarty_dsmr_feed_stalled_total", "DSMR feed clients disconnected because they took no data for the stall timeout.", nil, nil)
)

// Collector returns a Prometheus collector of the Server's Stats.
func (s *Server) Collector() prometheus.Collector { return collector{s} }

type collector struct{ s *Server }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descClients, descAccepted, descRefused, descSent, descDropped, descStalled} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	ch <- prometheus.MustNewConstMetric(descClients, prometheus.GaugeValue, float64(st.Clients))
	ch <- prometheus.MustNewConstMetric(descAccepted, prometheus.CounterValue, float64(st.Accepted))
	ch <- prometheus.MustNewConstMetric(descRefused, prometheus.CounterValue, float64(st.Refused))
	ch <- prometheus.MustNewConstMetric(descSent, prometheus.CounterValue, float64(st.Sent))
	ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(st.Dropped))
	ch <- prometheus.MustNewConstMetric(descStalled, prometheus.CounterValue, float64(st.Stalled))
}
