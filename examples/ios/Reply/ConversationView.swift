// The conversation screen: messages, a field to add an incoming message, the chips with progress
// or the reason, the compose field, "Write a longer reply"/Stop and Send.

import SwiftUI

struct ConversationView: View {
    @StateObject private var model = ReplyViewModel()
    @State private var incoming = ""

    var body: some View {
        NavigationView {
            VStack(spacing: 8) {
                ScrollView {
                    LazyVStack(alignment: .leading, spacing: 6) {
                        ForEach(Array(model.messages.enumerated()), id: \.offset) { _, message in
                            HStack {
                                if message.fromMe { Spacer() }
                                Text(message.text)
                                    .padding(8)
                                    .background(message.fromMe ? Color.accentColor.opacity(0.2) : Color.gray.opacity(0.15))
                                    .cornerRadius(10)
                                if !message.fromMe { Spacer() }
                            }
                        }
                    }
                    .padding(.horizontal)
                }

                HStack {
                    TextField("Add an incoming message", text: $incoming)
                        .textFieldStyle(.roundedBorder)
                    Button("Receive") {
                        let text = incoming.trimmingCharacters(in: .whitespacesAndNewlines)
                        guard !text.isEmpty else { return }
                        model.receive(text)
                        incoming = ""
                    }
                }
                .padding(.horizontal)

                chipsRow.padding(.horizontal)

                HStack {
                    TextField("Reply", text: $model.compose)
                        .textFieldStyle(.roundedBorder)
                    Button("Send") { model.send() }
                        .disabled(model.compose.trimmingCharacters(in: .whitespaces).isEmpty)
                }
                .padding(.horizontal)

                Button(model.streaming ? "Stop" : "Write a longer reply") {
                    model.streaming ? model.stop() : model.writeLongerReply()
                }
                .disabled(!model.streaming && (model.messages.last?.fromMe ?? true))
                .padding(.bottom)
            }
            .navigationTitle("Reply")
            .toolbar {
                Menu("Conversations") {
                    ForEach(ReplyViewModel.cannedConversations) { canned in
                        Button(canned.title) { model.load(canned.messages) }
                    }
                }
            }
        }
    }

    @ViewBuilder private var chipsRow: some View {
        if model.drafting {
            ProgressView("Drafting replies…")
        } else if let reason = model.reason {
            Text(reason).font(.footnote).foregroundColor(.secondary)
        } else if let error = model.errorMessage {
            Text(error).font(.footnote).foregroundColor(.red)
        } else {
            ScrollView(.horizontal, showsIndicators: false) {
                HStack {
                    ForEach(Array(model.chips.enumerated()), id: \.offset) { index, chip in
                        Button(chip) { model.tapChip(index) }
                            .buttonStyle(.bordered)
                            .accessibilityIdentifier("pocketlm.chip")
                    }
                }
            }
        }
    }
}
