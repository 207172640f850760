package graph

import (
	"github.com/agora/agora/ent/notification"
	"github.com/agora/agora/graph/generated/model"
	"github.com/agora/agora/internal/notify"
)

// notificationSettings is the GraphQL view of a user's notification mail settings.
func notificationSettings(s notify.Settings) *model.NotificationSettings {
	return &model.NotificationSettings{
		NewFollower: model.NotificationMail(s[notification.KindNEW_FOLLOWER]),
		NewComment:  model.NotificationMail(s[notification.KindNEW_COMMENT]),
		PostLiked:   model.NotificationMail(s[notification.KindPOST_LIKED]),
		NewMessage:  model.NotificationMail(s[notification.KindNEW_MESSAGE]),
	}
}

// settingsChange is the kinds an update sets.
func settingsChange(in model.UpdateNotificationSettingsInput) notify.Settings {
	change := notify.Settings{}
	for k, v := range map[notification.Kind]*model.NotificationMail{
		notification.KindNEW_FOLLOWER: in.NewFollower, notification.KindNEW_COMMENT: in.NewComment,
		notification.KindPOST_LIKED: in.PostLiked, notification.KindNEW_MESSAGE: in.NewMessage,
	} {
		if v != nil {
			change[k] = string(*v)
		}
	}
	return change
}
