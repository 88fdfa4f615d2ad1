// Training dashboard from Grafana; the page can chart /api/v1/training/{id}/metrics instead.
import React from "react";

const GRAFANA = process.env.NEXT_PUBLIC_GRAFANA_URL ?? "http://localhost:3001";

export function GrafanaEmbed({ jobId }: { jobId: number }) {
  return (
    <iframe
      title="Training metrics"
      src={`${GRAFANA}/d/training/overview?var-job=${jobId}&kiosk`}
      style={{ width: "100%", height: 480, border: 0 }}
    />
  );
}
