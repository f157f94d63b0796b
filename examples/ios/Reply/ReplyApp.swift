// The Reply sample: a conversation with reply chips drafted on-device. SwiftUI views only; the
// state machine is the shared Rust ReplyCore (tested by cargo test on the real model), driven
// through SampleCore's ReplyGlue and published to the views by ReplyViewModel.

import SwiftUI

@main
struct ReplyApp: App {
    var body: some Scene {
        WindowGroup { ConversationView() }
    }
}
