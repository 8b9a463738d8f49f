/** TanStack Query hooks shared by several pages. */
import { useQuery } from "@tanstack/react-query";
import { get, V1 } from "./api";
import type { Health } from "./health";

export function useHealth() {
  return useQuery({
    queryKey: ["health"],
    queryFn: () => get<Health>("/api/v1/system/health"), // detailed (a key in keys mode); /health is status only
    refetchInterval: 1000,
    retry: 0,
  });
}

export interface SeriesInfo { timeframe: string; first_ts: number; last_ts: number; rows: number }
export interface Instrument { symbol: string; name?: string | null; series: SeriesInfo[] }

export function useInstruments() {
  return useQuery({
    queryKey: ["instruments"],
    queryFn: () => get<{ instruments: Instrument[] }>(`${V1}/marketdata/instruments`).then((r) => r.instruments),
    staleTime: 30_000,
  });
}
