//! The OpenShift router: Routes by host and path to a Service.

use super::*;
use crate::sim::*;

impl Ctx<'_> {
    pub(super) fn router(&mut self, port: u16, conn: Conn, msg: Msg) -> Resp {
        let _ = (port, conn);
        self.explanation
            .push("the OpenShift router is not simulated yet".into());
        let _ = msg;
        Resp::local(503, "-", "router_not_simulated", Outcome::LocalReply, 0)
    }
}
