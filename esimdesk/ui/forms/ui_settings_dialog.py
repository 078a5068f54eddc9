# -*- coding: utf-8 -*-

################################################################################
## Form generated from reading UI file 'settings_dialog.ui'
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
from PySide6.QtWidgets import (QAbstractButton, QApplication, QDialog, QDialogButtonBox,
    QFormLayout, QFrame, QHBoxLayout, QHeaderView,
    QLabel, QLineEdit, QPushButton, QScrollArea,
    QSizePolicy, QSpacerItem, QTabWidget, QTableWidget,
    QTableWidgetItem, QVBoxLayout, QWidget)

class Ui_SettingsDialog(object):
    def setupUi(self, SettingsDialog):
        if not SettingsDialog.objectName():
            SettingsDialog.setObjectName(u"SettingsDialog")
        SettingsDialog.resize(620, 560)
        self.dialog_layout = QVBoxLayout(SettingsDialog)
        self.dialog_layout.setObjectName(u"dialog_layout")
        self.pages = QTabWidget(SettingsDialog)
        self.pages.setObjectName(u"pages")
        self.accounts_page = QWidget()
        self.accounts_page.setObjectName(u"accounts_page")
        self.accounts_page_layout = QVBoxLayout(self.accounts_page)
        self.accounts_page_layout.setObjectName(u"accounts_page_layout")
        self.accounts_note = QLabel(self.accounts_page)
        self.accounts_note.setObjectName(u"accounts_note")
        self.accounts_note.setWordWrap(True)

        self.accounts_page_layout.addWidget(self.accounts_note)

        self.accounts_scroll = QScrollArea(self.accounts_page)
        self.accounts_scroll.setObjectName(u"accounts_scroll")
        self.accounts_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.accounts_scroll.setWidgetResizable(True)
        self.accounts_list = QWidget()
        self.accounts_list.setObjectName(u"accounts_list")
        self.accounts_layout = QVBoxLayout(self.accounts_list)
        self.accounts_layout.setObjectName(u"accounts_layout")
        self.accounts_layout.setContentsMargins(0, -1, 0, -1)
        self.accounts_scroll.setWidget(self.accounts_list)

        self.accounts_page_layout.addWidget(self.accounts_scroll)

        self.pages.addTab(self.accounts_page, "")
        self.thresholds_page = QWidget()
        self.thresholds_page.setObjectName(u"thresholds_page")
        self.thresholds_page_layout = QVBoxLayout(self.thresholds_page)
        self.thresholds_page_layout.setObjectName(u"thresholds_page_layout")
        self.thresholds_note = QLabel(self.thresholds_page)
        self.thresholds_note.setObjectName(u"thresholds_note")
        self.thresholds_note.setWordWrap(True)

        self.thresholds_page_layout.addWidget(self.thresholds_note)

        self.thresholds_form = QFormLayout()
        self.thresholds_form.setObjectName(u"thresholds_form")

        self.thresholds_page_layout.addLayout(self.thresholds_form)

        self.thresholds_spacer = QSpacerItem(0, 0, QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Expanding)

        self.thresholds_page_layout.addItem(self.thresholds_spacer)

        self.pages.addTab(self.thresholds_page, "")
        self.rates_page = QWidget()
        self.rates_page.setObjectName(u"rates_page")
        self.rates_page_layout = QVBoxLayout(self.rates_page)
        self.rates_page_layout.setObjectName(u"rates_page_layout")
        self.rates_note = QLabel(self.rates_page)
        self.rates_note.setObjectName(u"rates_note")
        self.rates_note.setWordWrap(True)

        self.rates_page_layout.addWidget(self.rates_note)

        self.rates_form = QFormLayout()
        self.rates_form.setObjectName(u"rates_form")
        self.agent_currency_label = QLabel(self.rates_page)
        self.agent_currency_label.setObjectName(u"agent_currency_label")

        self.rates_form.setWidget(0, QFormLayout.ItemRole.LabelRole, self.agent_currency_label)

        self.agent_currency = QLineEdit(self.rates_page)
        self.agent_currency.setObjectName(u"agent_currency")
        self.agent_currency.setMaxLength(3)

        self.rates_form.setWidget(0, QFormLayout.ItemRole.FieldRole, self.agent_currency)


        self.rates_page_layout.addLayout(self.rates_form)

        self.rates_table = QTableWidget(self.rates_page)
        if (self.rates_table.columnCount() < 3):
            self.rates_table.setColumnCount(3)
        __qtablewidgetitem = QTableWidgetItem()
        self.rates_table.setHorizontalHeaderItem(0, __qtablewidgetitem)
        __qtablewidgetitem1 = QTableWidgetItem()
        self.rates_table.setHorizontalHeaderItem(1, __qtablewidgetitem1)
        __qtablewidgetitem2 = QTableWidgetItem()
        self.rates_table.setHorizontalHeaderItem(2, __qtablewidgetitem2)
        self.rates_table.setObjectName(u"rates_table")
        self.rates_table.setColumnCount(3)
        self.rates_table.horizontalHeader().setStretchLastSection(True)
        self.rates_table.verticalHeader().setVisible(False)

        self.rates_page_layout.addWidget(self.rates_table)

        self.rates_buttons = QHBoxLayout()
        self.rates_buttons.setObjectName(u"rates_buttons")
        self.add_rate_button = QPushButton(self.rates_page)
        self.add_rate_button.setObjectName(u"add_rate_button")

        self.rates_buttons.addWidget(self.add_rate_button)

        self.remove_rate_button = QPushButton(self.rates_page)
        self.remove_rate_button.setObjectName(u"remove_rate_button")

        self.rates_buttons.addWidget(self.remove_rate_button)

        self.rates_buttons_spacer = QSpacerItem(0, 0, QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)

        self.rates_buttons.addItem(self.rates_buttons_spacer)


        self.rates_page_layout.addLayout(self.rates_buttons)

        self.pages.addTab(self.rates_page, "")
        self.cards_page = QWidget()
        self.cards_page.setObjectName(u"cards_page")
        self.cards_layout = QVBoxLayout(self.cards_page)
        self.cards_layout.setObjectName(u"cards_layout")
        self.pages.addTab(self.cards_page, "")

        self.dialog_layout.addWidget(self.pages)

        self.error = QLabel(SettingsDialog)
        self.error.setObjectName(u"error")
        self.error.setStyleSheet(u"color: #b00020;")
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.dialog_layout.addWidget(self.error)

        self.buttons = QDialogButtonBox(SettingsDialog)
        self.buttons.setObjectName(u"buttons")
        self.buttons.setStandardButtons(QDialogButtonBox.StandardButton.Cancel|QDialogButtonBox.StandardButton.Save)

        self.dialog_layout.addWidget(self.buttons)

#if QT_CONFIG(shortcut)
        self.agent_currency_label.setBuddy(self.agent_currency)
#endif // QT_CONFIG(shortcut)

        self.retranslateUi(SettingsDialog)

        self.pages.setCurrentIndex(0)


        QMetaObject.connectSlotsByName(SettingsDialog)
    # setupUi

    def retranslateUi(self, SettingsDialog):
        SettingsDialog.setWindowTitle(QCoreApplication.translate("SettingsDialog", u"Settings", None))
        self.accounts_note.setText(QCoreApplication.translate("SettingsDialog", u"Credentials are kept in the system keychain only. Leave a credential empty to keep what is stored.", None))
        self.pages.setTabText(self.pages.indexOf(self.accounts_page), QCoreApplication.translate("SettingsDialog", u"Vendor accounts", None))
        self.thresholds_note.setText(QCoreApplication.translate("SettingsDialog", u"The status bar warns when a vendor's balance falls below its threshold (in the currency of that vendor's balance). Leave a field empty for no warning.", None))
        self.pages.setTabText(self.pages.indexOf(self.thresholds_page), QCoreApplication.translate("SettingsDialog", u"Low balance", None))
        self.rates_note.setText(QCoreApplication.translate("SettingsDialog", u"Prices in other currencies are shown in your currency only with a rate entered here, and always with the rate's date. One row per currency: 1 unit of it is worth the rate in your currency.", None))
        self.agent_currency_label.setText(QCoreApplication.translate("SettingsDialog", u"Your currency", None))
        self.agent_currency.setPlaceholderText(QCoreApplication.translate("SettingsDialog", u"e.g. EUR", None))
        ___qtablewidgetitem = self.rates_table.horizontalHeaderItem(0)
        ___qtablewidgetitem.setText(QCoreApplication.translate("SettingsDialog", u"Currency", None))
        ___qtablewidgetitem1 = self.rates_table.horizontalHeaderItem(1)
        ___qtablewidgetitem1.setText(QCoreApplication.translate("SettingsDialog", u"Rate", None))
        ___qtablewidgetitem2 = self.rates_table.horizontalHeaderItem(2)
        ___qtablewidgetitem2.setText(QCoreApplication.translate("SettingsDialog", u"Date (YYYY-MM-DD)", None))
        self.add_rate_button.setText(QCoreApplication.translate("SettingsDialog", u"Add rate", None))
        self.remove_rate_button.setText(QCoreApplication.translate("SettingsDialog", u"Remove rate", None))
        self.pages.setTabText(self.pages.indexOf(self.rates_page), QCoreApplication.translate("SettingsDialog", u"Exchange rates", None))
        self.pages.setTabText(self.pages.indexOf(self.cards_page), QCoreApplication.translate("SettingsDialog", u"Cards", None))
    # retranslateUi

