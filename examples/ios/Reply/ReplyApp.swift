// The Reply sample: a conversation with reply chips drafted on-device. SwiftUI views only; the
// state machine is SampleCore's ReplyController (tested on Linux on the real model), published
// to the views by ReplyViewModel.

import SwiftUI

@main
struct ReplyApp: App {
    var body: some Scene {
        WindowGroup { ConversationView() }
    }
}
