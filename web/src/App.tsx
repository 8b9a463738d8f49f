import { lazy, Suspense, useEffect } from "react";
import { NavLink, Navigate, Route, Routes, useNavigate } from "react-router-dom";
import { HealthBanner } from "./components/HealthBanner";
import { Loading } from "./components/States";
import { useLiveStatus } from "./lib/live";

// Code-split per page: each page (and the chart libraries it needs) is its own chunk.
const Overview = lazy(() => import("./pages/Overview"));
const Market = lazy(() => import("./pages/Market"));
const Strategy = lazy(() => import("./pages/Strategy"));
const Risk = lazy(() => import("./pages/Risk"));
const ML = lazy(() => import("./pages/ML"));
const Portfolio = lazy(() => import("./pages/Portfolio"));
const Settings = lazy(() => import("./pages/Settings"));

export const PAGES = [
  { path: "/", label: "Overview", key: "1" },
  { path: "/market", label: "Market", key: "2" },
  { path: "/strategy", label: "Strategy", key: "3" },
  { path: "/risk", label: "Risk", key: "4" },
  { path: "/ml", label: "ML", key: "5" },
  { path: "/portfolio", label: "Portfolio", key: "6" },
  { path: "/settings", label: "Settings", key: "7" },
];

function useShortcuts() {
  const navigate = useNavigate();
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable)) return;
      if (!e.altKey || e.ctrlKey || e.metaKey) return;
      const page = PAGES.find((p) => p.key === e.key);
      if (page) {
        e.preventDefault();
        navigate(page.path);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [navigate]);
}

export default function App() {
  useShortcuts();
  const ws = useLiveStatus();
  return (
    <div className="app">
      <a className="skip" href="#main">Skip to content</a>
      <nav className="nav" aria-label="Main">
        <div className="brand">⚓ Nautilus</div>
        <ul>
          {PAGES.map((p) => (
            <li key={p.path}>
              <NavLink to={p.path} end={p.path === "/"} title={`Alt+${p.key}`}>{p.label}</NavLink>
            </li>
          ))}
        </ul>
        <div className={`ws-dot ws-${ws}`} data-testid="ws-status" title={`live updates: ${ws}`}>live: {ws}</div>
      </nav>
      <main id="main" tabIndex={-1}>
        <HealthBanner />
        <Suspense fallback={<Loading label="Loading page…" />}>
          <Routes>
            <Route path="/" element={<Overview />} />
            <Route path="/market" element={<Market />} />
            <Route path="/strategy" element={<Strategy />} />
            <Route path="/risk" element={<Risk />} />
            <Route path="/ml" element={<ML />} />
            <Route path="/portfolio" element={<Portfolio />} />
            <Route path="/settings" element={<Settings />} />
            <Route path="*" element={<Navigate to="/" replace />} />
          </Routes>
        </Suspense>
      </main>
    </div>
  );
}
