/* API client of the frontend. It's the only place that knows the backend URL. */
const API = process.env.NEXT_PUBLIC_API_URL ?? "http://localhost:8000";

export async function trainingMetrics(id: number) {
  const response = await fetch(`${API}/api/v1/training/${id}/metrics`);
  return response.json();
}

export const isRedistributable = (name: string) => /redis|mongo/.test(name) === false;
