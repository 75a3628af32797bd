"""The live engine's own metrics: Prometheus' `/metrics`, and usage rollups for dashboards
(Prometheus and CloudWatch). Receivers and stages hold a meter and count; everything else is
read when Prometheus scrapes."""
