# -*- coding: utf-8 -*-

################################################################################
## Form generated from reading UI file 'card_settings.ui'
##
## Created by: Qt User Interface Compiler version 6.11.3
##
## WARNING! All changes made in this file will be lost when recompiling UI file!
################################################################################

from PySide6.QtCore import (QCoreApplication, QDate, QDateTime, QLocale,
    QMetaObject, QObject, QPoint, QRect,
    QSize, QTime, QUrl, Qt)
from PySide6.QtGui import (QBrush, QColor, QConicalGradient, QCursor,
    QFont, QFontDatabase, QGradient, QIcon,
    QImage, QKeySequence, QLinearGradient, QPainter,
    QPalette, QPixmap, QRadialGradient, QTransform)
from PySide6.QtWidgets import (QApplication, QFormLayout, QHBoxLayout, QLabel,
    QLineEdit, QPushButton, QSizePolicy, QSpacerItem,
    QVBoxLayout, QWidget)

class Ui_CardSettingsForm(object):
    def setupUi(self, CardSettingsForm):
        if not CardSettingsForm.objectName():
            CardSettingsForm.setObjectName(u"CardSettingsForm")
        self.card_settings_layout = QVBoxLayout(CardSettingsForm)
        self.card_settings_layout.setObjectName(u"card_settings_layout")
        self.card_settings_layout.setContentsMargins(0, 0, 0, 0)
        self.note = QLabel(CardSettingsForm)
        self.note.setObjectName(u"note")
        self.note.setWordWrap(True)

        self.card_settings_layout.addWidget(self.note)

        self.form = QFormLayout()
        self.form.setObjectName(u"form")
        self.name_label = QLabel(CardSettingsForm)
        self.name_label.setObjectName(u"name_label")

        self.form.setWidget(0, QFormLayout.ItemRole.LabelRole, self.name_label)

        self.name = QLineEdit(CardSettingsForm)
        self.name.setObjectName(u"name")

        self.form.setWidget(0, QFormLayout.ItemRole.FieldRole, self.name)

        self.logo_label = QLabel(CardSettingsForm)
        self.logo_label.setObjectName(u"logo_label")

        self.form.setWidget(1, QFormLayout.ItemRole.LabelRole, self.logo_label)

        self.logo_box = QVBoxLayout()
        self.logo_box.setObjectName(u"logo_box")
        self.preview = QLabel(CardSettingsForm)
        self.preview.setObjectName(u"preview")
        self.preview.setMinimumSize(QSize(160, 64))
        self.preview.setMaximumSize(QSize(160, 64))
        self.preview.setStyleSheet(u"border: 1px solid #c0c0c0; background: white;")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.logo_box.addWidget(self.preview)

        self.path_label = QLabel(CardSettingsForm)
        self.path_label.setObjectName(u"path_label")
        self.path_label.setTextFormat(Qt.TextFormat.PlainText)
        self.path_label.setWordWrap(True)

        self.logo_box.addWidget(self.path_label)

        self.buttons_row = QHBoxLayout()
        self.buttons_row.setObjectName(u"buttons_row")
        self.choose_button = QPushButton(CardSettingsForm)
        self.choose_button.setObjectName(u"choose_button")

        self.buttons_row.addWidget(self.choose_button)

        self.remove_button = QPushButton(CardSettingsForm)
        self.remove_button.setObjectName(u"remove_button")

        self.buttons_row.addWidget(self.remove_button)

        self.buttons_spacer = QSpacerItem(0, 0, QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)

        self.buttons_row.addItem(self.buttons_spacer)


        self.logo_box.addLayout(self.buttons_row)


        self.form.setLayout(1, QFormLayout.ItemRole.FieldRole, self.logo_box)


        self.card_settings_layout.addLayout(self.form)

        self.error = QLabel(CardSettingsForm)
        self.error.setObjectName(u"error")
        self.error.setStyleSheet(u"color: #b00020;")
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        self.error.setWordWrap(True)

        self.card_settings_layout.addWidget(self.error)

        self.bottom_spacer = QSpacerItem(0, 0, QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Expanding)

        self.card_settings_layout.addItem(self.bottom_spacer)

#if QT_CONFIG(shortcut)
        self.name_label.setBuddy(self.name)
#endif // QT_CONFIG(shortcut)

        self.retranslateUi(CardSettingsForm)

        QMetaObject.connectSlotsByName(CardSettingsForm)
    # setupUi

    def retranslateUi(self, CardSettingsForm):
        self.note.setText(QCoreApplication.translate("CardSettingsForm", u"The reseller's name and logo are printed on every customer card.", None))
        self.name_label.setText(QCoreApplication.translate("CardSettingsForm", u"Reseller name", None))
        self.logo_label.setText(QCoreApplication.translate("CardSettingsForm", u"Logo", None))
        self.choose_button.setText(QCoreApplication.translate("CardSettingsForm", u"Choose\u2026", None))
        self.remove_button.setText(QCoreApplication.translate("CardSettingsForm", u"Remove", None))
        pass
    # retranslateUi

