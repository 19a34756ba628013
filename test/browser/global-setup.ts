// The browser project builds the dashboard once, before any of its files start a stack: every
// `wrangler dev` the tests start serves pages/dist, and a file rebuilding it while another
// file's page loads served that page an emptied directory (the nav came up with no links).
import { buildDashboard } from "../../scripts/lib/stack.mjs";

export default function setup(): void {
  buildDashboard(true);
}
